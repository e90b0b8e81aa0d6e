// Expert mode: every TrainingConfig field (from GET /training/options), checked here and by the server, an estimate
// on demand, and launch.
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Calculator, GitFork, Rocket, RotateCcw, Wand2 } from "lucide-react";
import { PageHeader } from "@/components/AppShell";
import { AdvisorPanel } from "@/components/hub/AdvisorPanel";
import { ConfigForm } from "@/components/hub/ConfigForm";
import { EstimateView, FitHint } from "@/components/hub/TrainPieces";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/select";
import { Skeleton } from "@/components/ui/skeleton";
import { api, errorMessage } from "@/lib/api";
import { formatCount } from "@/lib/format";
import type { EstimateOut, EstimateRequest } from "@/client";
import { fieldErrors, newIdempotencyKey } from "@/lib/hub";
import { baseValues, changedValues, draftFromValues, parseDraft, type Draft } from "@/lib/hubConfig";
import { advisorOverrides } from "@/lib/research";
import { useBaseModels, useDatasets, useTrainingOptions } from "@/lib/hubQueries";
import { useForkTemplate } from "@/lib/modelPageQueries";

const TARGET_FIELDS = ["base_model", "dataset_id", "name", "preset", "mode"];

export default function TrainExpert() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const options = useTrainingOptions();
  const models = useBaseModels();
  const datasets = useDatasets();
  const fields = useMemo(() => options.data?.fields ?? [], [options.data]);

  const [base, setBase] = useState(params.get("base") ?? "");
  const [datasetId, setDatasetId] = useState(Number(params.get("dataset")) || 0);
  const [presetKey, setPresetKey] = useState(params.get("preset") ?? "");
  const [name, setName] = useState("");
  const [draft, setDraft] = useState<Draft | null>(null);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [clientBlocked, setClientBlocked] = useState(false);
  const [estimate, setEstimate] = useState<EstimateOut | null>(null);

  // ?fork=<model id>: prefilled from the parent's fork template (its base, data, preset and config); the LoRA shape
  // is locked (a fork continues the parent's adapter) and the run records the parent.
  const forkId = Number(params.get("fork")) || 0;
  const fork = useForkTemplate(forkId);
  const forkApplied = useRef(0);
  const [forkDraft, setForkDraft] = useState<Draft | null>(null);
  const locked = fork.data?.locked ?? [];
  useEffect(() => {
    const t = fork.data;
    if (!t || !fields.length || !options.data || forkApplied.current === forkId) return;
    forkApplied.current = forkId;
    const p = t.preset ? options.data.presets.find((x) => x.key === t.preset) : undefined;
    const values = { ...baseValues(fields, p?.values), ...t.config };
    const d = draftFromValues(fields, values);
    setBase(t.base_model);
    setDatasetId(t.dataset_id ?? 0);
    setPresetKey(p?.key ?? "");
    setName(t.name);
    setDraft(d);
    setForkDraft(d);
    setEstimate(null);
  }, [fork.data, fields, options.data, forkId]);
  // Leaving the fork ("Start from scratch instead"): back to the defaults.
  useEffect(() => {
    if (forkId || !forkApplied.current) return;
    forkApplied.current = 0;
    setForkDraft(null);
    setDraft(null);
    setName("");
    setEstimate(null);
  }, [forkId]);

  const preset = options.data?.presets.find((p) => p.key === presetKey);
  const baseDraft = useMemo(() => draftFromValues(fields, baseValues(fields, preset?.values)), [fields, preset]);
  useEffect(() => {
    if (fields.length && draft === null) setDraft((d) => d ?? baseDraft); // a fork template may have filled it in the same commit
  }, [fields.length, draft, baseDraft]);
  // Default to the first available base model.
  useEffect(() => {
    if (!base && models.data?.length) setBase((b) => b || (models.data?.find((m) => m.available)?.key ?? ""));
  }, [base, models.data]);

  const known = useMemo(() => [...fields.map((f) => f.name), ...TARGET_FIELDS], [fields]);

  const payload = (): EstimateRequest | null => {
    const { values, errors } = parseDraft(fields, draft ?? baseDraft);
    if (Object.keys(errors).length) {
      setClientBlocked(true);
      const first = fields.find((f) => errors[f.name]);
      if (first) document.getElementById(`cfg-${first.name}`)?.focus();
      return null;
    }
    setClientBlocked(false);
    const config = changedValues(fields, values, baseValues(fields, preset?.values));
    for (const f of locked) delete config[f];
    return { base_model: base, dataset_id: datasetId, ...(preset ? { preset: preset.key } : {}), config };
  };

  const estimateMut = useMutation({
    mutationFn: (body: EstimateRequest) => api.post("/training/estimate", { body }),
    meta: { silent: true },
    onSuccess: (e) => {
      setEstimate(e);
      setServerErrors({});
    },
    onError: (err) => {
      setEstimate(null);
      setServerErrors(fieldErrors(err, known));
    },
  });
  const sent = JSON.stringify({ base, datasetId, presetKey, name, draft });
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [sent]);
  const launch = useMutation({
    mutationFn: (body: EstimateRequest) =>
      api.post("/runs", {
        body: { ...body, mode: "expert", name: name.trim() || undefined, ...(forkId && fork.data ? { parent_model_id: fork.data.parent_model_id } : {}) },
        headers: { "Idempotency-Key": idempotencyKey },
      }),
    meta: { silent: true },
    onSuccess: (run) => {
      qc.invalidateQueries({ queryKey: ["runs"] });
      navigate(`/hub/runs/${run.id}`);
    },
    onError: (err) => setServerErrors(fieldErrors(err, known)),
  });

  const change = (name: string, value: string | boolean) => {
    setDraft((d) => ({ ...(d ?? baseDraft), [name]: value }));
    setEstimate(null);
    if (serverErrors[name])
      setServerErrors((errs) => {
        const next = { ...errs };
        delete next[name];
        return next;
      });
  };

  const ready = !!base && datasetId > 0 && !!draft;
  const stillInvalid = clientBlocked && !!draft && Object.keys(parseDraft(fields, draft).errors).length > 0;
  // A choice the training machine refuses (GET /training/options `unavailable`) is flagged as soon as it is picked,
  // with the server's message naming the alternative; the server's own 422 says the same on estimate or launch.
  const refusedHere = useMemo(() => {
    const out: Record<string, string> = {};
    for (const u of options.data?.unavailable ?? []) {
      const value = draft?.[u.field];
      if (value !== undefined && String(value) === String(u.value)) out[u.field] = u.message;
    }
    return out;
  }, [options.data, draft]);
  const general = serverErrors[""] ?? (launch.isError && !Object.keys(serverErrors).length ? errorMessage(launch.error) : null);

  return (
    <div>
      <PageHeader
        title="Train a model: expert mode"
        description="Every training setting, with what it does. Values out of range are caught before anything is queued."
        actions={
          <Button variant="outline" asChild>
            <Link to="/hub/train">
              <Wand2 aria-hidden /> Guided mode
            </Link>
          </Button>
        }
      />
      {forkId > 0 && (
        <div
          className="mb-6 flex flex-wrap items-start gap-2 rounded-md border border-sky-200 bg-sky-50 px-4 py-3 text-sm text-sky-900 dark:border-sky-900 dark:bg-sky-950/40 dark:text-sky-200"
          data-testid="fork-banner"
          role="status"
        >
          <GitFork className="mt-0.5 size-4 shrink-0" aria-hidden />
          <div className="min-w-0 flex-1">
            {fork.isLoading && <p>Loading the model to fork…</p>}
            {fork.isError && <p className="text-destructive">This model cannot be forked: {errorMessage(fork.error)}</p>}
            {fork.data && (
              <>
                <p>
                  Forking <strong data-testid="fork-parent">{fork.data.parent.name}</strong>: training continues from its adapter, with its settings and data
                  filled in below. Change what you like and launch; the new model records it as its parent.
                </p>
                {!fork.data.adapter_available && (
                  <p className="mt-1 font-medium text-destructive">{fork.data.unavailable_reason || "The parent's adapter is not on this server: the fork cannot start."}</p>
                )}
                {locked.length > 0 && <p className="mt-1 text-xs">Fixed by the parent's adapter: {locked.join(", ")}.{fork.data.dataset_id ? "" : " Its dataset is not visible to you: pick one."}</p>}
              </>
            )}
          </div>
          <Button variant="ghost" size="sm" asChild>
            <Link to="/hub/train/expert">Start from scratch instead</Link>
          </Button>
        </div>
      )}
      <Card className="mb-6">
        <CardHeader>
          <CardTitle className="text-base">What to train</CardTitle>
          <CardDescription>The base model, the data and, if you like, a preset to start from.</CardDescription>
        </CardHeader>
        {/* minmax(0, 1fr) columns and full-width selects: each field stays in its own column (a long dataset name used to
            push the Dataset select over "Start from"). */}
        <CardContent className="grid grid-cols-[minmax(0,1fr)] gap-4 sm:grid-cols-[repeat(2,minmax(0,1fr))] xl:grid-cols-[repeat(4,minmax(0,1fr))]" data-testid="expert-what">
          <div className="grid content-start gap-1.5">
            <Label htmlFor="expert-base">Base model</Label>
            <NativeSelect
              id="expert-base"
              className="w-full"
              value={base}
              onChange={(e) => {
                setBase(e.target.value);
                setEstimate(null);
              }}
              aria-invalid={!!serverErrors.base_model || undefined}
            >
              {!base && <option value="">Choose…</option>}
              {models.data?.map((m) => (
                <option key={m.id} value={m.key} disabled={!m.available}>
                  {m.name}
                  {m.toy ? " (toy)" : ""}
                  {m.available ? "" : " — not available"}
                </option>
              ))}
            </NativeSelect>
            {serverErrors.base_model && <p className="text-xs font-medium text-destructive">{serverErrors.base_model}</p>}
          </div>
          <div className="grid content-start gap-1.5">
            <Label htmlFor="expert-dataset">Dataset</Label>
            <NativeSelect
              id="expert-dataset"
              className="w-full"
              value={datasetId || ""}
              onChange={(e) => {
                setDatasetId(Number(e.target.value) || 0);
                setEstimate(null);
              }}
              aria-invalid={!!serverErrors.dataset_id || undefined}
            >
              <option value="">Choose…</option>
              {datasets.data?.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.name} ({formatCount(d.rows)} rows)
                </option>
              ))}
            </NativeSelect>
            {serverErrors.dataset_id && <p className="text-xs font-medium text-destructive">{serverErrors.dataset_id}</p>}
            <Link to="/hub/datasets" className="text-xs text-primary hover:underline">
              Upload a new dataset
            </Link>
          </div>
          <div className="grid content-start gap-1.5">
            <Label htmlFor="expert-preset">Start from</Label>
            <NativeSelect
              id="expert-preset"
              className="w-full"
              value={presetKey}
              onChange={(e) => {
                const key = e.target.value;
                setPresetKey(key);
                const p = options.data?.presets.find((x) => x.key === key);
                setDraft(draftFromValues(fields, baseValues(fields, p?.values)));
                setEstimate(null);
                setServerErrors({});
              }}
            >
              <option value="">Defaults</option>
              {options.data?.presets.map((p) => (
                <option key={p.key} value={p.key}>
                  {p.title}
                </option>
              ))}
            </NativeSelect>
            <p className="text-xs text-muted-foreground">{preset ? preset.summary : "The default value of every setting."}</p>
          </div>
          <div className="grid content-start gap-1.5">
            <Label htmlFor="expert-name">Name of your model</Label>
            <Input id="expert-name" value={name} maxLength={200} placeholder="Named after the data and base" onChange={(e) => setName(e.target.value)} />
          </div>
        </CardContent>
      </Card>
      <div>
        {options.isLoading || !draft ? (
          <Skeleton className="h-96 w-full" />
        ) : (
          <ConfigForm fields={fields} draft={draft} base={forkDraft ?? baseDraft} locked={locked} onChange={change} serverErrors={{ ...refusedHere, ...serverErrors }} disabled={launch.isPending} />
        )}
      </div>
      <AdvisorPanel base={base} preset={presetKey} datasetId={datasetId} config={draft ? advisorOverrides(fields, draft, preset?.values) : null} />
      {estimate && (
        <Card className="mt-6">
          <CardHeader>
            <CardTitle className="text-base">Estimate</CardTitle>
          </CardHeader>
          <CardContent>
            <EstimateView estimate={estimate} />
          </CardContent>
        </Card>
      )}
      <div className="sticky bottom-0 z-20 -mx-3 mt-6 flex flex-wrap items-center gap-2 border-t bg-background/90 px-3 py-3 backdrop-blur sm:-mx-6 sm:px-6">
        <Button
          variant="outline"
          disabled={!ready || estimateMut.isPending}
          onClick={() => {
            const body = payload();
            if (body) estimateMut.mutate(body);
          }}
          data-testid="estimate-button"
        >
          <Calculator aria-hidden /> {estimateMut.isPending ? "Estimating…" : "Estimate"}
        </Button>
        <FitHint estimate={estimate} />
        <Button
          disabled={!ready || launch.isPending}
          onClick={() => {
            const body = payload();
            if (body) launch.mutate(body);
          }}
          data-testid="launch"
        >
          <Rocket aria-hidden /> {launch.isPending ? "Launching…" : "Launch training"}
        </Button>
        <Button
          variant="ghost"
          onClick={() => {
            setDraft(forkDraft ?? baseDraft);
            setServerErrors({});
            setClientBlocked(false);
            setEstimate(null);
          }}
        >
          <RotateCcw aria-hidden /> Reset
        </Button>
        <div className="min-w-0 flex-1 text-sm" aria-live="polite">
          {stillInvalid && <p className="text-destructive">Some values are out of range: fix the highlighted fields.</p>}
          {!stillInvalid && Object.keys(serverErrors).some((k) => k) && (
            <p className="text-destructive">The server refused some values: see the messages next to the fields.</p>
          )}
          {general && (
            <p className="text-destructive" role="alert" data-testid="general-error">
              {general}
            </p>
          )}
        </div>
      </div>
    </div>
  );
}
