import { useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { Wand2 } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input, Label } from "@/components/ui/input";
import { api, errorMessage } from "@/lib/api";
import { MODEL_TYPE_LABEL, parseEnum } from "@/lib/enums";
import type { AutofillPreview, EntryCreate, ProposedFields } from "@/client";

/** The proposed fields in EntryCreate's shape (unknown values left out, model type only when we know it). */
export function proposedToCreate(f: ProposedFields): Partial<EntryCreate> {
  const out: Partial<EntryCreate> = {};
  if (f.name) out.name = f.name;
  if (f.developer) out.developer = f.developer;
  const modelType = parseEnum(MODEL_TYPE_LABEL, f.model_type);
  if (modelType) out.model_type = modelType;
  if (f.parameters != null) out.parameters = f.parameters;
  if (f.license) out.license = f.license;
  if (f.version) out.version = f.version;
  if (f.description) out.description = f.description;
  if (f.hf_repo_id) out.hf_repo_id = f.hf_repo_id;
  if (f.github_repo) out.github_repo = f.github_repo;
  if (f.source_links?.length) out.source_links = f.source_links;
  if (f.tags?.length) out.tags = f.tags;
  return out;
}

/** "Paste a link": asks the server for a preview (nothing is saved) and hands the proposal to the form. */
export function AutofillBox({ onProposal, initial = "", idPrefix = "autofill" }: { onProposal: (p: AutofillPreview) => void; initial?: string; idPrefix?: string }) {
  const [value, setValue] = useState(initial);
  const fetchPreview = useMutation({
    mutationFn: (url_or_id: string) => api.post("/autofill", { body: { url_or_id } }),
    meta: { silent: true },
    onSuccess: onProposal,
  });
  const go = () => {
    if (value.trim()) fetchPreview.mutate(value.trim());
  };
  return (
    <div className="grid gap-1.5 rounded-md border border-dashed p-3">
      <Label htmlFor={`${idPrefix}-url`}>Autofill from a link</Label>
      <div className="flex gap-2">
        <Input
          id={`${idPrefix}-url`}
          value={value}
          placeholder="https://huggingface.co/org/model, github.com/owner/repo or org/model"
          onChange={(e) => setValue(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              go();
            }
          }}
        />
        <Button type="button" variant="outline" onClick={go} disabled={fetchPreview.isPending || !value.trim()}>
          <Wand2 aria-hidden /> {fetchPreview.isPending ? "Fetching…" : "Autofill"}
        </Button>
      </div>
      {fetchPreview.isError && (
        <p role="alert" className="text-sm text-destructive" data-testid="autofill-error">
          {errorMessage(fetchPreview.error)}
        </p>
      )}
      {fetchPreview.isSuccess && (
        <p className="text-xs text-muted-foreground" role="status">
          Filled in from {fetchPreview.data.id} — check the fields before saving.
          {fetchPreview.data.warnings.length > 0 && ` (${fetchPreview.data.warnings.join("; ")})`}
        </p>
      )}
    </div>
  );
}
