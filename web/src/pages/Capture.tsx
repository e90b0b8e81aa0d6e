import { useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Wand2 } from "lucide-react";
import { PageHeader } from "@/components/AppShell";
import { proposedToCreate } from "@/components/AutofillBox";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { ModelTypeSelect, StatusSelect } from "@/components/EnumSelect";
import { Textarea } from "@/components/ui/textarea";
import { toast } from "@/components/ui/toast";
import { api, ApiError, errorMessage } from "@/lib/api";
import { useAuthState } from "@/lib/auth";
import { captureDraft, parseRepoUrl } from "@/lib/capture";
import { ENTRY_STATUS_LABEL, MODEL_TYPE_LABEL, parseEnum } from "@/lib/enums";
import { formatParams } from "@/lib/format";
import type { AutofillPreview, EntryCreate } from "@/client";

/** Opened by the bookmarklet: /capture?url=...&title=... → a pre-filled new entry, saved with the user's session. */
export default function CapturePage() {
  const [params] = useSearchParams();
  const url = params.get("url") ?? "";
  const title = params.get("title") ?? "";
  const ref = useMemo(() => parseRepoUrl(url), [url]);
  const initial = useMemo(() => captureDraft(url, title), [url, title]);
  const [form, setForm] = useState({ name: initial.name, developer: "", model_type: "LLM", status: "wishlist", description: "", hf_repo_id: initial.hf_repo_id, github_repo: initial.github_repo });
  const [extra, setExtra] = useState<Partial<EntryCreate>>({});
  const [proposal, setProposal] = useState<AutofillPreview | null>(null);
  const { data: auth } = useAuthState();
  const navigate = useNavigate();
  const qc = useQueryClient();

  useEffect(() => {
    if (auth?.mode === "accounts" && !auth.user) {
      window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
    }
  }, [auth]);

  const autofill = useMutation({
    mutationFn: () => api.post("/autofill", { body: { url_or_id: url } }),
    meta: { silent: true },
    onSuccess: setProposal,
  });
  const save = useMutation({
    mutationFn: (body: EntryCreate) => api.post("/entries", { body }),
    meta: { silent: true },
    onSuccess: (entry) => {
      qc.invalidateQueries();
      toast.success("Saved to ModelMate", entry.name);
      navigate(`/entries/${entry.id}`);
    },
  });
  const duplicateId =
    save.error instanceof ApiError && save.error.status === 409 ? (save.error.details as { existing_id?: number } | null)?.existing_id : undefined;

  const set = (k: keyof typeof form, v: string) => setForm((f) => ({ ...f, [k]: v }));
  const accept = () => {
    if (!proposal) return;
    const p = proposedToCreate(proposal.fields);
    setForm((f) => ({
      ...f,
      name: p.name ?? f.name,
      developer: p.developer ?? f.developer,
      model_type: p.model_type ?? f.model_type,
      description: p.description ?? f.description,
      hf_repo_id: p.hf_repo_id ?? f.hf_repo_id,
      github_repo: p.github_repo ?? f.github_repo,
    }));
    setExtra({ parameters: p.parameters, license: p.license, version: p.version, tags: p.tags, source_links: p.source_links });
    setProposal(null);
  };
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!form.name.trim()) return;
    const links = [...new Set([...initial.source_links, ...(extra.source_links ?? [])])];
    save.mutate({
      ...extra,
      name: form.name.trim(),
      developer: form.developer.trim() || null,
      model_type: form.model_type as EntryCreate["model_type"],
      status: form.status as EntryCreate["status"],
      description: form.description.trim() || null,
      hf_repo_id: form.hf_repo_id.trim() || null,
      github_repo: form.github_repo.trim() || null,
      source_links: links,
      date_interacted: new Date().toISOString().slice(0, 10),
    });
  };

  return (
    <div className="mx-auto max-w-2xl">
      <PageHeader title="Save to ModelMate" description={url ? `From ${url}` : "Open this page with the bookmarklet (Settings), or fill it in by hand."} />
      {url && !ref && (
        <p className="mb-4 rounded-md border bg-muted/50 p-3 text-sm" data-testid="capture-unrecognised">
          Not a Hugging Face or GitHub repository link: fill in the details yourself.
        </p>
      )}
      <Card>
        <CardContent className="pt-5">
          <form className="grid gap-4" aria-label="Capture" onSubmit={submit}>
            {ref && (
              <div className="flex flex-wrap items-center gap-2 text-sm">
                <span className="text-muted-foreground">
                  {ref.source === "huggingface" ? "Hugging Face" : "GitHub"}: <span className="font-mono">{ref.id}</span>
                </span>
                <Button type="button" variant="outline" size="sm" className="ml-auto" onClick={() => autofill.mutate()} disabled={autofill.isPending}>
                  <Wand2 aria-hidden /> {autofill.isPending ? "Fetching…" : "Autofill"}
                </Button>
              </div>
            )}
            {autofill.isError && (
              <p role="alert" className="text-sm text-destructive">
                {errorMessage(autofill.error)}
              </p>
            )}
            {proposal && (
              <div className="grid gap-2 rounded-md border p-3 text-sm" data-testid="autofill-proposal">
                <p className="font-medium">Proposed from {proposal.id}</p>
                <dl className="grid grid-cols-[8rem_minmax(0,1fr)] gap-x-3 gap-y-1">
                  {Object.entries(proposal.fields)
                    .filter(([, v]) => v != null && !(Array.isArray(v) && v.length === 0))
                    .map(([k, v]) => (
                      <div key={k} className="contents">
                        <dt className="text-muted-foreground">{k}</dt>
                        <dd className="truncate">{k === "parameters" ? formatParams(v as number) : Array.isArray(v) ? v.join(", ") : String(v)}</dd>
                      </div>
                    ))}
                </dl>
                <div className="flex gap-2">
                  <Button type="button" size="sm" onClick={accept}>
                    Use these
                  </Button>
                  <Button type="button" size="sm" variant="ghost" onClick={() => setProposal(null)}>
                    Ignore
                  </Button>
                </div>
              </div>
            )}
            <div className="grid gap-1.5">
              <Label htmlFor="cap-name">Name</Label>
              <Input id="cap-name" required value={form.name} onChange={(e) => set("name", e.target.value)} />
            </div>
            <div className="grid gap-3 sm:grid-cols-3">
              <div className="grid gap-1.5">
                <Label htmlFor="cap-developer">Developer</Label>
                <Input id="cap-developer" value={form.developer} onChange={(e) => set("developer", e.target.value)} />
              </div>
              <div className="grid gap-1.5">
                <Label htmlFor="cap-type">Type</Label>
                <ModelTypeSelect id="cap-type" value={parseEnum(MODEL_TYPE_LABEL, form.model_type) ?? ""} onValueChange={(v) => v && set("model_type", v)} />
              </div>
              <div className="grid gap-1.5">
                <Label htmlFor="cap-status">Status</Label>
                <StatusSelect id="cap-status" value={parseEnum(ENTRY_STATUS_LABEL, form.status) ?? ""} onValueChange={(v) => v && set("status", v)} />
              </div>
            </div>
            <div className="grid gap-3 sm:grid-cols-2">
              <div className="grid gap-1.5">
                <Label htmlFor="cap-hf">Hugging Face id</Label>
                <Input id="cap-hf" value={form.hf_repo_id} placeholder="owner/name" onChange={(e) => set("hf_repo_id", e.target.value)} />
              </div>
              <div className="grid gap-1.5">
                <Label htmlFor="cap-gh">GitHub repository</Label>
                <Input id="cap-gh" value={form.github_repo} placeholder="owner/repo" onChange={(e) => set("github_repo", e.target.value)} />
              </div>
            </div>
            <div className="grid gap-1.5">
              <Label htmlFor="cap-desc">Description</Label>
              <Textarea id="cap-desc" rows={3} value={form.description} onChange={(e) => set("description", e.target.value)} />
            </div>
            {initial.source_links.length > 0 && (
              <p className="truncate text-sm text-muted-foreground">
                Source link: <span data-testid="capture-link">{initial.source_links[0]}</span>
              </p>
            )}
            {save.isError && (
              <p role="alert" className="text-sm text-destructive">
                {errorMessage(save.error)}
                {duplicateId && (
                  <>
                    {" "}
                    <Link className="text-primary underline" to={`/entries/${duplicateId}`}>
                      Open the existing entry
                    </Link>
                  </>
                )}
              </p>
            )}
            <Button type="submit" className="justify-self-start" disabled={save.isPending || !form.name.trim()}>
              {save.isPending ? "Saving…" : "Save"}
            </Button>
          </form>
        </CardContent>
      </Card>
    </div>
  );
}
