import { useState } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Plus } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Input, Label } from "@/components/ui/input";
import { ModelTypeSelect, StatusSelect } from "@/components/EnumSelect";
import { AutofillBox, proposedToCreate } from "./AutofillBox";
import { TagInput } from "./TagInput";
import { toast } from "@/components/ui/toast";
import { api } from "@/lib/api";
import type { EntryCreate, EntryStatus, ModelType } from "@/client";

/** Quick "log a model" dialog: the essentials, then the full editor on the entry page. */
export function NewEntryDialog({ trigger }: { trigger?: React.ReactNode }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [developer, setDeveloper] = useState("");
  const [modelType, setModelType] = useState<ModelType>("LLM");
  const [status, setStatus] = useState<EntryStatus>("wishlist");
  const [tags, setTags] = useState<string[]>([]);
  const [extra, setExtra] = useState<Partial<EntryCreate>>({});
  const navigate = useNavigate();
  const qc = useQueryClient();

  const create = useMutation({
    mutationFn: (body: EntryCreate) => api.post("/entries", { body }),
    onSuccess: (entry) => {
      qc.invalidateQueries();
      toast.success("Entry created", entry.name);
      setOpen(false);
      setName("");
      setDeveloper("");
      setTags([]);
      setExtra({});
      navigate(`/entries/${entry.id}`);
    },
  });

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    create.mutate({
      ...extra,
      name: name.trim(),
      developer: developer.trim() || null,
      model_type: modelType,
      status,
      tags,
      date_interacted: new Date().toISOString().slice(0, 10),
    });
  };

  return (
    <Dialog open={open} onOpenChange={setOpen}>
      <DialogTrigger asChild>
        {trigger ?? (
          <Button>
            <Plus aria-hidden /> New entry
          </Button>
        )}
      </DialogTrigger>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Log a model</DialogTitle>
          <DialogDescription>Add the basics now; everything else can be edited on the entry page.</DialogDescription>
        </DialogHeader>
        <AutofillBox
          onProposal={(p) => {
            const { name: n, developer: d, model_type: t, tags: tg, ...rest } = proposedToCreate(p.fields);
            if (n) setName(n);
            if (d) setDeveloper(d);
            if (t) setModelType(t);
            if (tg) setTags((old) => [...new Set([...old, ...tg])]);
            setExtra(rest);
          }}
        />
        <form onSubmit={submit} className="grid gap-4" aria-label="New entry">
          <div className="grid gap-1.5">
            <Label htmlFor="new-name">Name</Label>
            <Input id="new-name" required autoFocus value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. Llama 3.1 8B" />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="new-developer">Developer</Label>
            <Input id="new-developer" value={developer} onChange={(e) => setDeveloper(e.target.value)} placeholder="e.g. Meta" />
          </div>
          <div className="grid grid-cols-2 gap-3">
            <div className="grid gap-1.5">
              <Label htmlFor="new-type">Type</Label>
              <ModelTypeSelect id="new-type" value={modelType} onValueChange={(v) => v && setModelType(v)} />
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor="new-status">Status</Label>
              <StatusSelect id="new-status" value={status} onValueChange={(v) => v && setStatus(v)} />
            </div>
          </div>
          <div className="grid gap-1.5">
            <span className="text-sm font-medium">Tags</span>
            <TagInput value={tags} onChange={setTags} />
          </div>
          <DialogFooter>
            <Button variant="outline" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={create.isPending || !name.trim()}>
              {create.isPending ? "Creating…" : "Create entry"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
