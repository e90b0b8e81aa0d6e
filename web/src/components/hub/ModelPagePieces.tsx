// Sections of the model page (/m/:owner/:name): capability callouts, dataset card, feedback, Hugging Face snippet,
// training numbers. All user text is rendered as text (never as HTML).
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { ArrowDownRight, ArrowUpRight, Check, Copy, Database, MessageCircle, Sparkles, ThumbsDown, ThumbsUp } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Label } from "@/components/ui/input";
import { Skeleton } from "@/components/ui/skeleton";
import { Textarea } from "@/components/ui/textarea";
import { errorMessage } from "@/lib/api";
import { domainLabel, metricLabel } from "@/lib/bench";
import { formatCount, formatDateTime, formatDuration, formatFloat } from "@/lib/format";
import type { DatasetStats } from "@/lib/hub";
import { datasetTokens, FORMAT_LABEL } from "@/lib/hub";
import type { CapabilityChangeOut, FeedbackBlock, ModelPageOut, PageDataset, PageRun } from "@/lib/modelPage";
import { changeSentence, changeTone, hfSnippet, modelHref, runCurve, sampleText, sortChanges } from "@/lib/modelPage";
import { useCapabilityChanges, useFeedback } from "@/lib/modelPageQueries";
import { cn } from "@/lib/utils";

// ---- capability changes ----------------------------------------------------------------------------------------

function ChangeCallout({ change }: { change: CapabilityChangeOut }) {
  const tone = changeTone(change);
  const Icon = tone === "down" ? ArrowDownRight : ArrowUpRight;
  return (
    <li
      className={cn(
        "flex items-start gap-2 rounded-md border px-3 py-2 text-sm",
        tone === "up" && "border-emerald-200 bg-emerald-50 text-emerald-900 dark:border-emerald-900 dark:bg-emerald-950/40 dark:text-emerald-200",
        tone === "down" && "border-red-200 bg-red-50 text-red-900 dark:border-red-900 dark:bg-red-950/40 dark:text-red-200",
        tone === "flat" && "text-muted-foreground",
      )}
      data-testid="capability-callout"
      data-tone={tone}
    >
      <Icon className="mt-0.5 size-4 shrink-0" aria-hidden />
      <span className="min-w-0">
        <span className="font-medium">{changeSentence(change)}</span>
        <span className="block text-xs opacity-80">
          {change.task ? `${change.task}${change.metric ? ` · ${metricLabel(change.metric)}` : ""}` : `${domainLabel(change.domain)} (domain mean)`} · vs{" "}
          <Link to={modelHref(change.reference)} className="underline underline-offset-2">
            {change.reference.name}
          </Link>{" "}
          ({change.reference_kind})
        </span>
      </span>
    </li>
  );
}

/** Flagged (significant, large enough) changes vs the parent or base; the others counted. */
export function CapabilityCallouts({ modelId }: { modelId: number }) {
  const changes = useCapabilityChanges(modelId);
  const items = sortChanges(changes.data?.items ?? []);
  const flagged = items.filter((c) => c.flagged);
  return (
    <Card data-testid="capability-changes">
      <CardHeader>
        <CardTitle className="flex items-center gap-2 text-base">
          <Sparkles className="size-4" aria-hidden /> Capability changes
        </CardTitle>
        <CardDescription>
          Differences from the model it was trained from, per task and domain, that are statistically significant (after correcting for the number of
          comparisons) and large enough to matter.
        </CardDescription>
      </CardHeader>
      <CardContent>
        {changes.isLoading && <Skeleton className="h-16 w-full" />}
        {changes.isError && <p className="text-sm text-muted-foreground">Capability changes are not available: {errorMessage(changes.error)}</p>}
        {changes.isSuccess && flagged.length === 0 && (
          <p className="text-sm text-muted-foreground" data-testid="no-capability-changes">
            {items.length
              ? `No significant change: ${items.length} comparison${items.length === 1 ? "" : "s"} measured, none both significant and large.`
              : "Nothing compared yet: the model and the one it came from both need benchmark scores."}
          </p>
        )}
        {flagged.length > 0 && (
          <ul className="grid gap-2">
            {flagged.slice(0, 12).map((c) => (
              <ChangeCallout key={c.id} change={c} />
            ))}
          </ul>
        )}
        {flagged.length > 12 && <p className="mt-2 text-xs text-muted-foreground">and {flagged.length - 12} more.</p>}
      </CardContent>
    </Card>
  );
}

// ---- training numbers ------------------------------------------------------------------------------------------

export function RunNumbers({ run }: { run: PageRun }) {
  const curve = runCurve(run);
  const items: [string, string][] = [
    ["Final train loss", formatFloat(run.final_loss)],
    ["Final eval loss", formatFloat(run.final_eval_loss)],
    ["Tokens trained", formatCount(run.train_tokens)],
    ["Tokens / second", run.tokens_per_second ? formatCount(run.tokens_per_second) : "—"],
    ["Training time", formatDuration(run.train_seconds)],
    ["Steps", formatCount(curve.length ? curve[curve.length - 1].step : null)],
  ];
  return (
    <dl className="grid grid-cols-2 gap-3 sm:grid-cols-3 xl:grid-cols-6" data-testid="run-numbers">
      {items.map(([label, value]) => (
        <div key={label} className="rounded-md border bg-card px-3 py-2">
          <dt className="text-xs text-muted-foreground">{label}</dt>
          <dd className="mt-0.5 font-semibold tabular-nums">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

// ---- dataset card ----------------------------------------------------------------------------------------------

export function DatasetCard({ dataset: d }: { dataset: PageDataset }) {
  const stats = (d.stats ?? {}) as DatasetStats;
  const tokens = datasetTokens({ stats: d.stats as never, token_counts: d.token_counts as never });
  const rows: [string, string][] = [
    ["Rows", `${formatCount(d.rows)}${d.train_rows != null && d.eval_rows != null ? ` (${formatCount(d.train_rows)} train, ${formatCount(d.eval_rows)} held out)` : ""}`],
    ["Format", FORMAT_LABEL[d.format] ?? d.format],
    ["Domain", d.domain || "—"],
    ["License", d.license || "—"],
    ["Tokens", tokens?.total != null ? `${formatCount(tokens.total)}${tokens.mean != null ? ` (mean ${formatCount(tokens.mean)} per row)` : ""}` : "—"],
    ["Longest row", tokens?.max != null ? `${formatCount(tokens.max)} tokens` : stats.chars?.max != null ? `${formatCount(stats.chars.max)} characters` : "—"],
  ];
  return (
    <Card data-testid="dataset-card">
      <CardHeader>
        <CardTitle className="flex items-center gap-2 text-base">
          <Database className="size-4" aria-hidden /> Training data
        </CardTitle>
        <CardDescription>
          <Link to={`/hub/datasets/${d.id}`} className="text-primary hover:underline">
            {d.name}
          </Link>
        </CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        <dl className="grid gap-x-6 text-sm sm:grid-cols-2">
          {rows.map(([label, value]) => (
            <div key={label} className="flex justify-between gap-3 border-b border-dashed py-1.5">
              <dt className="text-muted-foreground">{label}</dt>
              <dd className="text-right font-medium tabular-nums">{value}</dd>
            </div>
          ))}
        </dl>
        {d.samples.length > 0 && (
          <div className="grid gap-2">
            <p className="text-sm font-medium">Samples</p>
            {d.samples.slice(0, 3).map((s, i) => (
              <pre key={i} className="max-h-40 overflow-auto whitespace-pre-wrap [overflow-wrap:anywhere] rounded-md bg-muted px-3 py-2 text-xs" data-testid="dataset-sample">
                {sampleText(s)}
              </pre>
            ))}
          </div>
        )}
      </CardContent>
    </Card>
  );
}

// ---- feedback --------------------------------------------------------------------------------------------------

export function FeedbackSection({ page, pageKey }: { page: ModelPageOut; pageKey: readonly unknown[] }) {
  const modelId = page.model.id;
  const fb: FeedbackBlock = page.feedback;
  const { put, remove } = useFeedback(modelId, pageKey);
  const [comment, setComment] = useState(fb.mine?.comment ?? "");
  useEffect(() => setComment(fb.mine?.comment ?? ""), [fb.mine?.comment]);
  const mine = fb.mine?.value ?? 0;
  const busy = put.isPending || remove.isPending;
  const can = page.permissions.can_feedback;

  const vote = (value: 1 | -1) => {
    if (mine === value) remove.mutate();
    else put.mutate({ value, comment: comment.trim() || null });
  };
  return (
    <Card data-testid="feedback">
      <CardHeader>
        <CardTitle className="flex items-center gap-2 text-base">
          <MessageCircle className="size-4" aria-hidden /> Feedback
        </CardTitle>
        <CardDescription>Is this model any good? A thumb and, if you like, a word on why.</CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        <div className="flex flex-wrap items-center gap-2">
          <Button
            variant={mine === 1 ? "default" : "outline"}
            onClick={() => vote(1)}
            disabled={!can || busy}
            aria-pressed={mine === 1}
            data-testid="thumbs-up"
            data-count={fb.up}
          >
            <ThumbsUp aria-hidden /> <span className="tabular-nums">{fb.up}</span>
            <span className="sr-only"> thumbs up</span>
          </Button>
          <Button
            variant={mine === -1 ? "destructive" : "outline"}
            onClick={() => vote(-1)}
            disabled={!can || busy}
            aria-pressed={mine === -1}
            data-testid="thumbs-down"
            data-count={fb.down}
          >
            <ThumbsDown aria-hidden /> <span className="tabular-nums">{fb.down}</span>
            <span className="sr-only"> thumbs down</span>
          </Button>
          {!can && <span className="text-xs text-muted-foreground">Sign in to give feedback.</span>}
          {mine !== 0 && <span className="text-xs text-muted-foreground">Press your thumb again to take it back.</span>}
        </div>
        {can && (
          <form
            className="grid gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              put.mutate({ value: (mine || 1) as 1 | -1, comment: comment.trim() || null });
            }}
          >
            <Label htmlFor="feedback-comment">Comment (optional)</Label>
            <Textarea id="feedback-comment" value={comment} maxLength={2000} rows={2} className="min-h-16" onChange={(e) => setComment(e.target.value)} placeholder="What worked, what did not…" />
            <div className="flex items-center gap-2">
              <Button type="submit" variant="secondary" size="sm" disabled={busy || comment.trim() === (fb.mine?.comment ?? "")} data-testid="save-comment">
                Save comment
              </Button>
              {!mine && <span className="text-xs text-muted-foreground">Saving a comment counts as a thumbs up unless you pick a thumb.</span>}
            </div>
          </form>
        )}
        {fb.recent.length > 0 && (
          <ul className="grid gap-2" data-testid="feedback-list">
            {fb.recent.map((f, i) => (
              <li key={`${f.user}-${f.created_at}-${i}`} className="rounded-md border px-3 py-2 text-sm" data-testid="feedback-item">
                <p className="flex items-center gap-2 text-xs text-muted-foreground">
                  {f.value > 0 ? <ThumbsUp className="size-3.5 text-emerald-600" aria-label="thumbs up" /> : <ThumbsDown className="size-3.5 text-red-600" aria-label="thumbs down" />}
                  <span className="font-medium text-foreground">{f.user ?? "someone"}</span>
                  {formatDateTime(f.created_at)}
                </p>
                {f.comment && <p className="mt-1 whitespace-pre-wrap [overflow-wrap:anywhere]">{f.comment}</p>}
              </li>
            ))}
          </ul>
        )}
      </CardContent>
    </Card>
  );
}

// ---- Hugging Face snippet --------------------------------------------------------------------------------------

export function HfSnippet({ repoId, isPrivate, baseRepo }: { repoId: string; isPrivate: boolean; baseRepo?: string | null }) {
  const code = hfSnippet(window.location.origin, repoId, { private: isPrivate, baseRepo });
  const [copied, setCopied] = useState(false);
  return (
    <Card data-testid="hf-snippet">
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle className="text-base">Use with Hugging Face</CardTitle>
          <CardDescription>
            This server answers the Hugging Face client: point <code>endpoint</code> at it.
            {isPrivate ? " The model is private: pass one of your API tokens." : ""}
          </CardDescription>
        </div>
        <Button
          variant="outline"
          size="sm"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(code);
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            } catch {
              /* no clipboard (insecure context): the text stays selectable */
            }
          }}
        >
          {copied ? <Check aria-hidden /> : <Copy aria-hidden />} {copied ? "Copied" : "Copy"}
        </Button>
      </CardHeader>
      <CardContent>
        <pre className="overflow-x-auto rounded-md bg-muted px-3 py-2 text-xs leading-relaxed" data-testid="hf-code">
          <code>{code}</code>
        </pre>
      </CardContent>
    </Card>
  );
}

export function VisibilityBadge({ visibility }: { visibility: string | null }) {
  if (!visibility) return null;
  return (
    <Badge variant={visibility === "public" ? "success" : "muted"} data-testid="visibility" data-visibility={visibility}>
      {visibility === "public" ? "Public" : "Private"}
    </Badge>
  );
}
