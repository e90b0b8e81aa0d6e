// Pieces shared by the guided wizard and the expert form: base-model cards, dataset choices, presets, the estimate.
import { Check, Lock, Sparkles, TriangleAlert } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { formatBytes, formatCount, formatDate, formatDuration, formatParams } from "@/lib/format";
import type { BaseModelOut, DatasetOut, EstimateOut, MemoryModeOut, PresetOut } from "@/lib/types";
import { datasetTokens, FORMAT_LABEL } from "@/lib/hub";
import { cn } from "@/lib/utils";

/** Why a base model cannot be used here, in plain words. */
export function unavailableReason(m: BaseModelOut): string {
  if (m.unavailable_reason) return m.unavailable_reason;
  if (m.toy) return "Not built yet on this server: run `modelmate models build-tiny` (takes a few seconds).";
  if (m.gated) return "Gated on Hugging Face: accept its licence there and give the server a Hugging Face token.";
  return "Not available: the worker cannot download it (no internet access, or not in the local models folder).";
}

function ChoiceCard({
  selected,
  disabled,
  onSelect,
  children,
  testId,
  label,
}: {
  selected: boolean;
  disabled?: boolean;
  onSelect: () => void;
  children: React.ReactNode;
  testId?: string;
  label: string;
}) {
  return (
    <button
      type="button"
      role="radio"
      aria-checked={selected}
      aria-disabled={disabled || undefined}
      aria-label={label}
      onClick={() => !disabled && onSelect()}
      data-testid={testId}
      className={cn(
        "relative flex h-full flex-col gap-2 rounded-lg border bg-card p-4 text-left shadow-xs transition-shadow",
        "focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
        selected ? "border-primary ring-2 ring-primary/50" : "hover:shadow-md",
        disabled && "cursor-not-allowed opacity-70 hover:shadow-xs",
      )}
    >
      {selected && (
        <span className="absolute right-3 top-3 flex size-5 items-center justify-center rounded-full bg-primary text-primary-foreground">
          <Check className="size-3.5" aria-hidden />
        </span>
      )}
      {children}
    </button>
  );
}

export function BaseModelCard({ model: m, selected, onSelect }: { model: BaseModelOut; selected: boolean; onSelect: () => void }) {
  return (
    <ChoiceCard selected={selected} disabled={!m.available} onSelect={onSelect} testId="base-model-card" label={m.toy ? `${m.name} (toy)` : m.name}>
      <div className="flex flex-wrap items-center gap-2 pr-6">
        <span className="font-semibold tracking-tight" data-testid="base-model-name">
          {m.name}
        </span>
        {m.toy && (
          <Badge variant="warning" data-testid="toy-badge">
            <Sparkles className="size-3" aria-hidden /> toy
          </Badge>
        )}
        {m.gated && (
          <Badge variant="outline" title="Needs accepting the licence on Hugging Face">
            <Lock className="size-3" aria-hidden /> gated
          </Badge>
        )}
      </div>
      <p className="text-xs text-muted-foreground">
        {[m.developer, m.parameters ? `${formatParams(m.parameters)} parameters` : null, m.context_length ? `${formatCount(m.context_length)} context` : null, m.license]
          .filter(Boolean)
          .join(" · ")}
      </p>
      {m.toy && <p className="text-xs font-medium text-amber-700 dark:text-amber-300">A toy model for trying the workflow: it will not learn anything useful.</p>}
      {m.description && <p className="line-clamp-3 text-sm text-foreground/80">{m.description}</p>}
      {!m.available && (
        <p className="mt-auto flex gap-1.5 text-xs text-muted-foreground" data-testid="unavailable">
          <TriangleAlert className="mt-0.5 size-3.5 shrink-0" aria-hidden /> {unavailableReason(m)}
        </p>
      )}
    </ChoiceCard>
  );
}

export function DatasetChoice({ dataset: d, selected, onSelect }: { dataset: DatasetOut; selected: boolean; onSelect: () => void }) {
  const tokens = datasetTokens(d)?.total;
  return (
    <ChoiceCard selected={selected} onSelect={onSelect} testId="dataset-choice" label={d.name}>
      <span className="pr-6 font-semibold tracking-tight">{d.name}</span>
      <p className="text-xs text-muted-foreground">
        {[FORMAT_LABEL[d.format] ?? d.format, `${formatCount(d.rows)} rows`, tokens ? `${formatCount(tokens)} tokens` : null, formatDate(d.created_at)]
          .filter(Boolean)
          .join(" · ")}
      </p>
      {d.description && <p className="line-clamp-2 text-sm text-foreground/80">{d.description}</p>}
    </ChoiceCard>
  );
}

export function PresetCard({ preset: p, selected, onSelect }: { preset: PresetOut; selected: boolean; onSelect: () => void }) {
  return (
    <ChoiceCard selected={selected} onSelect={onSelect} testId={`preset-${p.key}`} label={p.title}>
      <span className="pr-6 font-semibold tracking-tight">{p.title}</span>
      <p className="text-sm font-medium text-foreground/90">{p.summary}</p>
      <p className="text-sm text-muted-foreground">{p.explanation}</p>
    </ChoiceCard>
  );
}

/**
 * Guided mode's memory choice (GET /training/options memory_modes): "Standard", or "Save memory" (4-bit base, gradient
 * checkpointing, 8-bit optimizer: QLoRA), whose settings are laid over the preset's. Only the modes the server's
 * machine can run are offered; when saving memory is not possible the reason is said instead of a dead choice.
 */
export function MemoryChoice({ modes, selected, onSelect }: { modes: MemoryModeOut[]; selected: string; onSelect: (key: string) => void }) {
  const offered = modes.filter((m) => m.available);
  const refused = modes.filter((m) => !m.available);
  if (offered.length < 2) {
    return refused.length ? (
      <p className="text-sm text-muted-foreground" data-testid="memory-unavailable">
        Saving memory (4-bit QLoRA) is not available on this server: {refused.map((m) => m.reason).join(" ")}
      </p>
    ) : null;
  }
  return (
    <div role="radiogroup" aria-label="Memory" className="grid gap-3 md:grid-cols-2" data-testid="memory-choice">
      {offered.map((m) => (
        <ChoiceCard key={m.key} selected={selected === m.key} onSelect={() => onSelect(m.key)} testId={`memory-${m.key}`} label={m.title}>
          <span className="pr-6 font-semibold tracking-tight">{m.title}</span>
          <p className="text-sm text-muted-foreground">{m.summary}</p>
        </ChoiceCard>
      ))}
    </div>
  );
}

function Cell({ label, value, hint }: { label: string; value: React.ReactNode; hint?: string }) {
  return (
    <div className="rounded-md border bg-background/50 p-3">
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className="mt-1 text-lg font-semibold tabular-nums tracking-tight">{value}</dd>
      {hint && <dd className="text-xs text-muted-foreground">{hint}</dd>}
    </div>
  );
}

const MEMORY_PARTS: [string, string][] = [
  ["runtime", "runtime"],
  ["weights", "weights"],
  ["adapter", "adapter + optimizer"],
  ["activations", "activations"],
  ["logits", "logits"],
  ["transients", "working memory"],
];

/** What the peak memory is made of, largest first (the estimate's `memory` parts). */
function memoryBreakdown(memory: Record<string, number> | undefined): string | undefined {
  if (!memory) return undefined;
  const parts = MEMORY_PARTS.filter(([key]) => (memory[key] ?? 0) > 0)
    .sort((a, b) => memory[b[0]] - memory[a[0]])
    .map(([key, label]) => `${label} ${formatBytes(memory[key])}`);
  return parts.length ? parts.join(" · ") : undefined;
}

/** The warning shown when the run will likely not fit the worker's memory, with the savers that would make it fit.
 * Launching stays possible: the estimate is within about 25 %, and a worker elsewhere may have more memory. */
function FitWarning({ estimate: e }: { estimate: EstimateOut }) {
  if (e.fits !== false) return null;
  const fitting = (e.savers ?? []).filter((s) => s.fits);
  return (
    <div role="alert" className="flex gap-2 rounded-md border border-destructive/40 bg-destructive/5 p-3 text-sm" data-testid="estimate-fit-warning">
      <TriangleAlert className="mt-0.5 size-4 shrink-0 text-destructive" aria-hidden />
      <div className="grid gap-1">
        <p className="font-medium text-destructive">Probably too big for the worker's memory</p>
        {e.note && <p>{e.note}</p>}
        {fitting.length > 0 && (
          <ul className="list-disc pl-5" data-testid="estimate-savers">
            {fitting.map((s) => (
              <li key={s.label}>
                {s.label}: needs {formatBytes(s.peak_memory_bytes)}
              </li>
            ))}
          </ul>
        )}
        <p className="text-xs text-muted-foreground">You can still launch it; it may stop with an out-of-memory error.</p>
      </div>
    </div>
  );
}

/** One line next to the launch button when the estimate says the run will likely not fit (launching stays possible). */
export function FitHint({ estimate: e }: { estimate: EstimateOut | null | undefined }) {
  if (e?.fits !== false) return null;
  return (
    <p className="flex items-center gap-1.5 text-sm font-medium text-destructive" data-testid="launch-fit-warning">
      <TriangleAlert className="size-4 shrink-0" aria-hidden /> May not fit the worker's memory: needs ~{formatBytes(e.peak_memory_bytes)}
      {e.device_memory_bytes ? ` of ${formatBytes(e.device_memory_bytes)}` : ""} (see the estimate).
    </p>
  );
}

/** What POST /training/estimate predicts: steps, tokens, memory, time, trainable parameters, and its notes. */
export function EstimateView({ estimate: e }: { estimate: EstimateOut }) {
  const memoryHint = [
    e.device_memory_bytes ? `of ${formatBytes(e.device_memory_bytes)} on the worker` : null,
    memoryBreakdown(e.memory),
  ]
    .filter(Boolean)
    .join(" · ");
  return (
    <div className="grid gap-3" data-testid="estimate">
      <FitWarning estimate={e} />
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3">
        <Cell label="Training steps" value={formatCount(e.steps)} hint={e.epochs ? `${Number(e.epochs.toFixed(2))} epochs` : undefined} />
        <Cell
          label="Tokens to train on"
          value={formatCount(e.train_tokens)}
          hint={[
            e.tokens_per_step ? `${formatCount(e.tokens_per_step)} per step` : null,
            e.epoch_tokens && e.epoch_tokens !== e.train_tokens ? `${formatCount(e.epoch_tokens)} per pass over the data` : null,
          ]
            .filter(Boolean)
            .join(" · ") || undefined}
        />
        <Cell label="Trainable parameters" value={formatParams(e.trainable_parameters)} hint="LoRA adapter only" />
        <Cell label="Peak memory" value={formatBytes(e.peak_memory_bytes)} hint={memoryHint || undefined} />
        <Cell label="Time" value={`~${formatDuration(e.seconds)}`} hint={e.device ? `on ${e.device}` : undefined} />
      </dl>
      {!!e.notes?.length && (
        <ul className="grid list-disc gap-1 pl-5 text-sm text-muted-foreground" data-testid="estimate-notes">
          {e.notes.map((n, i) => (
            <li key={i}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
