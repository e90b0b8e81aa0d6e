// The guided builder: base model → dataset → goal → review (estimate) → launch. Choices live in the URL, so
// reloading or going back keeps them.
import { useEffect, useMemo, useState } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ArrowLeft, ArrowRight, Rocket, SlidersHorizontal } from "lucide-react";
import { PageHeader } from "@/components/AppShell";
import { AdvisorPanel } from "@/components/hub/AdvisorPanel";
import { DatasetUpload } from "@/components/hub/DatasetUpload";
import { BaseModelCard, DatasetChoice, EstimateView, FitHint, MemoryChoice, PresetCard } from "@/components/hub/TrainPieces";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { Skeleton } from "@/components/ui/skeleton";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { api, errorMessage } from "@/lib/api";
import { formatCount } from "@/lib/format";
import type { RunOut } from "@/lib/types";
import { FORMAT_LABEL, newIdempotencyKey } from "@/lib/hub";
import { useBaseModels, useDatasets, useTrainingOptions } from "@/lib/hubQueries";
import { cn } from "@/lib/utils";

const STEPS = ["Base model", "Dataset", "Goal", "Review"] as const;

function Stepper({ step, onGo, reachable }: { step: number; onGo: (s: number) => void; reachable: (s: number) => boolean }) {
  return (
    <ol className="mb-6 grid grid-cols-4 gap-2" aria-label="Steps">
      {STEPS.map((label, i) => {
        const n = i + 1;
        const current = n === step;
        const done = n < step;
        return (
          <li key={label}>
            <button
              type="button"
              onClick={() => reachable(n) && onGo(n)}
              disabled={!reachable(n)}
              aria-current={current ? "step" : undefined}
              className={cn(
                "flex w-full flex-col gap-1 border-t-4 pt-2 text-left text-xs sm:text-sm disabled:cursor-not-allowed",
                current ? "border-primary text-foreground" : done ? "border-primary/50 text-foreground/80" : "border-muted text-muted-foreground",
              )}
            >
              <span className="font-medium tabular-nums">Step {n}</span>
              <span className="hidden sm:inline">{label}</span>
            </button>
          </li>
        );
      })}
    </ol>
  );
}

export default function Train() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const step = Math.min(4, Math.max(1, Number(params.get("step")) || 1));
  const base = params.get("base") ?? "";
  const datasetId = Number(params.get("dataset")) || 0;
  const presetKey = params.get("preset") ?? "";
  const memoryKey = params.get("memory") ?? "standard";

  const models = useBaseModels();
  const datasets = useDatasets();
  const options = useTrainingOptions();

  const set = (changes: Record<string, string | number | null>, push = true) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "" || v === 0) next.delete(k);
      else next.set(k, String(v));
    }
    setParams(next, { replace: !push });
  };

  const baseModel = models.data?.find((m) => m.key === base || String(m.id) === base);
  const dataset = datasets.data?.find((d) => d.id === datasetId);
  const presets = options.data?.presets ?? [];
  const preset = presets.find((p) => p.key === presetKey);
  // The memory choice overlays its settings on the preset; one the machine cannot run is never sent.
  const memory = options.data?.memory_modes?.find((m) => m.key === memoryKey && m.available);

  // Pre-select the first preset (Quick try) once the options arrive.
  useEffect(() => {
    if (!presetKey && presets.length) set({ preset: presets[0].key }, false);
  }, [presetKey, presets.length]);

  const reachable = (s: number) =>
    s === 1 || (s === 2 && !!baseModel?.available) || (s === 3 && !!baseModel?.available && !!dataset) || (s === 4 && !!baseModel?.available && !!dataset && !!preset);
  useEffect(() => {
    // A URL that skips ahead (or a choice that went away) lands on the furthest reachable step.
    if (models.isSuccess && datasets.isSuccess && options.isSuccess && !reachable(step)) {
      let s = step;
      while (s > 1 && !reachable(s)) s--;
      set({ step: s }, false);
    }
  }, [step, models.isSuccess, datasets.isSuccess, options.isSuccess, baseModel?.key, dataset?.id, preset?.key]);
  const go = (s: number) => set({ step: s });

  const expertLink = `/hub/train/expert?${new URLSearchParams({
    ...(baseModel ? { base: baseModel.key } : {}),
    ...(dataset ? { dataset: String(dataset.id) } : {}),
    ...(preset ? { preset: preset.key } : {}),
  }).toString()}`;


  // A fork (?fork=<model id>) starts from its parent's full config: that is expert mode's job.
  const forkId = params.get("fork");
  if (forkId) return <Navigate to={`/hub/train/expert?fork=${encodeURIComponent(forkId)}`} replace />;

  return (
    <div>
      <PageHeader
        title="Train a model"
        description="Fine-tune an open model on your own examples with LoRA, in four steps."
        actions={
          <Button variant="outline" asChild>
            <Link to={expertLink}>
              <SlidersHorizontal aria-hidden /> Expert mode
            </Link>
          </Button>
        }
      />
      <Stepper step={step} onGo={go} reachable={reachable} />
      {step === 1 && (
        <section aria-labelledby="step-title">
          <h2 id="step-title" className="mb-1 text-lg font-semibold">
            Pick a base model
          </h2>
          <p className="mb-4 text-sm text-muted-foreground">
            The model you start from. Your fine-tune is a small adapter on top of it.{" "}
            <Link to="/hub/base-models" className="underline underline-offset-4">
              All base models, or import a GGUF file
            </Link>
          </p>
          {models.isLoading && <Skeleton className="h-40 w-full" />}
          {models.isError && <p className="text-sm text-destructive">{errorMessage(models.error)}</p>}
          <div role="radiogroup" aria-label="Base model" className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3">
            {models.data?.map((m) => (
              <BaseModelCard key={m.id} model={m} selected={baseModel?.id === m.id} onSelect={() => set({ base: m.key }, false)} />
            ))}
          </div>
        </section>
      )}
      {step === 2 && <DatasetStep baseKey={baseModel?.key} datasetId={datasetId} onChoose={(id) => set({ dataset: id }, false)} />}
      {step === 3 && (
        <section aria-labelledby="step-title">
          <h2 id="step-title" className="mb-1 text-lg font-semibold">
            What is your goal?
          </h2>
          <p className="mb-4 text-sm text-muted-foreground">
            A preset picks all the training settings for you. Expert mode lets you change every one of them.
          </p>
          {options.isLoading && <Skeleton className="h-32 w-full" />}
          <div role="radiogroup" aria-label="Goal" className="grid gap-3 md:grid-cols-3">
            {presets.map((p) => (
              <PresetCard key={p.key} preset={p} selected={preset?.key === p.key} onSelect={() => set({ preset: p.key }, false)} />
            ))}
          </div>
          {options.data && (
            <div className="mt-6">
              <h3 className="mb-1 font-semibold">Memory</h3>
              <p className="mb-3 text-sm text-muted-foreground">Use less memory to fit a bigger model on your GPU, at the cost of slower steps.</p>
              <MemoryChoice
                modes={options.data.memory_modes ?? []}
                selected={memory?.key ?? "standard"}
                onSelect={(key) => set({ memory: key === "standard" ? null : key }, false)}
              />
            </div>
          )}
        </section>
      )}
      {step === 4 && baseModel && dataset && preset && (
        <ReviewStep
          base={baseModel.key}
          baseName={baseModel.name}
          toy={baseModel.toy}
          datasetId={dataset.id}
          datasetName={dataset.name}
          datasetRows={dataset.rows}
          datasetFormat={dataset.format}
          preset={preset.key}
          presetTitle={preset.title}
          memory={memory && memory.key !== "standard" ? { title: memory.title, values: memory.values } : undefined}
          onEdit={go}
          onLaunched={(run) => {
            qc.invalidateQueries({ queryKey: ["runs"] });
            navigate(`/hub/runs/${run.id}`);
          }}
        />
      )}
      {step < 4 && (
        <div className="mt-6 flex items-center justify-between gap-2">
          <Button variant="outline" onClick={() => go(step - 1)} disabled={step === 1}>
            <ArrowLeft aria-hidden /> Back
          </Button>
          <Button onClick={() => go(step + 1)} disabled={!reachable(step + 1)} data-testid="wizard-next">
            Next <ArrowRight aria-hidden />
          </Button>
        </div>
      )}
      {step >= 3 && baseModel?.available && <AdvisorPanel base={baseModel.key} preset={preset?.key} datasetId={dataset?.id} />}
    </div>
  );
}

function DatasetStep({ baseKey, datasetId, onChoose }: { baseKey?: string; datasetId: number; onChoose: (id: number) => void }) {
  const datasets = useDatasets();
  const list = datasets.data ?? [];
  const [tab, setTab] = useState<string | null>(null);
  const current = tab ?? (list.length ? "existing" : "upload");
  const chosen = list.find((d) => d.id === datasetId);
  return (
    <section aria-labelledby="step-title">
      <h2 id="step-title" className="mb-1 text-lg font-semibold">
        Add your examples
      </h2>
      <p className="mb-4 text-sm text-muted-foreground">
        Upload a file of examples the model should learn from, or use a dataset you uploaded before. A part is held out to measure progress.
      </p>
      <Tabs value={current} onValueChange={setTab}>
        <TabsList>
          <TabsTrigger value="upload">Upload a file</TabsTrigger>
          <TabsTrigger value="existing">Use an existing dataset{list.length ? ` (${list.length})` : ""}</TabsTrigger>
        </TabsList>
        <TabsContent value="upload">
          <DatasetUpload
            baseModel={baseKey}
            onUploaded={(d) => {
              onChoose(d.id);
              setTab("existing");
            }}
          />
        </TabsContent>
        <TabsContent value="existing">
          {datasets.isLoading && <Skeleton className="h-24 w-full" />}
          {datasets.isSuccess && !list.length && <p className="text-sm text-muted-foreground">No datasets yet: upload one first.</p>}
          <div role="radiogroup" aria-label="Dataset" className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3">
            {list.map((d) => (
              <DatasetChoice key={d.id} dataset={d} selected={d.id === datasetId} onSelect={() => onChoose(d.id)} />
            ))}
          </div>
        </TabsContent>
      </Tabs>
      {chosen && (
        <p className="mt-4 text-sm" role="status" data-testid="chosen-dataset">
          Chosen: <strong>{chosen.name}</strong> — {formatCount(chosen.rows)} rows
          {chosen.train_rows != null && chosen.eval_rows != null ? ` (${formatCount(chosen.train_rows)} to train on, ${formatCount(chosen.eval_rows)} held out)` : ""}
          , {FORMAT_LABEL[chosen.format] ?? chosen.format}.{" "}
          <Link to={`/hub/datasets/${chosen.id}`} className="text-primary hover:underline">
            Look inside
          </Link>
        </p>
      )}
    </section>
  );
}

function ReviewStep(props: {
  base: string;
  baseName: string;
  toy: boolean;
  datasetId: number;
  datasetName: string;
  datasetRows: number;
  datasetFormat: string;
  preset: string;
  presetTitle: string;
  /** Settings laid over the preset's (guided mode's memory choice), with its title for the summary. */
  memory?: { title: string; values: Record<string, unknown> };
  onEdit: (step: number) => void;
  onLaunched: (run: RunOut) => void;
}) {
  const { base, datasetId, preset } = props;
  const config = props.memory?.values;
  const [name, setName] = useState(`${props.datasetName} on ${props.baseName}`);
  const estimate = useQuery({
    queryKey: ["estimate", base, datasetId, preset, config],
    queryFn: () => api.post("/training/estimate", { body: { base_model: base, dataset_id: datasetId, preset, ...(config ? { config } : {}) } }),
    meta: { silent: true },
    staleTime: 60_000,
  });
  // One key per distinct launch: a retry after a lost response returns the same run instead of a second one.
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [base, datasetId, preset, name, config]);
  const launch = useMutation({
    mutationFn: () =>
      api.post("/runs", {
        body: { name: name.trim() || undefined, base_model: base, dataset_id: datasetId, mode: "guided", preset, ...(config ? { config } : {}) },
        headers: { "Idempotency-Key": idempotencyKey },
      }),
    onSuccess: props.onLaunched,
  });
  const rows: [string, React.ReactNode, number][] = [
    ["Base model", <>{props.baseName}{props.toy ? " (toy)" : ""}</>, 1],
    ["Dataset", `${props.datasetName} · ${formatCount(props.datasetRows)} rows · ${FORMAT_LABEL[props.datasetFormat] ?? props.datasetFormat}`, 2],
    ["Goal", props.presetTitle, 3],
    ["Memory", props.memory?.title ?? "Standard", 3],
  ];
  return (
    <section aria-labelledby="step-title" className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
      <Card>
        <CardHeader>
          <CardTitle id="step-title" className="text-base">
            Review and launch
          </CardTitle>
          <CardDescription>Check your choices; the run starts as soon as a worker is free.</CardDescription>
        </CardHeader>
        <CardContent className="grid gap-4">
          <dl className="grid gap-2 text-sm">
            {rows.map(([label, value, s]) => (
              <div key={label} className="flex items-baseline justify-between gap-3 border-b border-dashed pb-2">
                <dt className="text-muted-foreground">{label}</dt>
                <dd className="flex items-baseline gap-2 text-right font-medium">
                  {value}
                  <button type="button" className="text-xs font-normal text-primary hover:underline" onClick={() => props.onEdit(s)}>
                    Change
                  </button>
                </dd>
              </div>
            ))}
          </dl>
          <form
            className="grid gap-3"
            onSubmit={(e) => {
              e.preventDefault();
              launch.mutate();
            }}
          >
            <div className="grid gap-1.5">
              <Label htmlFor="run-name">Name of your model</Label>
              <Input id="run-name" value={name} maxLength={200} onChange={(e) => setName(e.target.value)} />
              <p className="text-xs text-muted-foreground">The fine-tuned model appears in your catalog under this name.</p>
            </div>
            {launch.isError && (
              <p role="alert" className="text-sm text-destructive">
                {errorMessage(launch.error)}
              </p>
            )}
            <FitHint estimate={estimate.data} />
            <div className="flex flex-wrap gap-2">
              <Button type="button" variant="outline" onClick={() => props.onEdit(3)}>
                <ArrowLeft aria-hidden /> Back
              </Button>
              <Button type="submit" disabled={launch.isPending || estimate.isError} data-testid="launch">
                <Rocket aria-hidden /> {launch.isPending ? "Launching…" : "Launch training"}
              </Button>
            </div>
          </form>
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle className="text-base">Estimate</CardTitle>
          <CardDescription>Before you launch: how big and how long, roughly.</CardDescription>
        </CardHeader>
        <CardContent>
          {estimate.isLoading && <Skeleton className="h-40 w-full" />}
          {estimate.isError && (
            <p role="alert" className="text-sm text-destructive">
              {errorMessage(estimate.error)}
            </p>
          )}
          {estimate.data && <EstimateView estimate={estimate.data} />}
        </CardContent>
      </Card>
    </section>
  );
}
