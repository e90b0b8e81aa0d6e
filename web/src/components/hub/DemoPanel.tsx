// Try the model: a chat (the model's chat template is applied by the server) or a plain text completion, tokens
// streamed into the page as they are generated, generation settings, a stop button, and a clear message when the
// model cannot run here.
import { useEffect, useRef, useState } from "react";
import { AlertTriangle, Eraser, MessageSquare, Send, Settings2, Square } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { Textarea } from "@/components/ui/textarea";
import { ApiError, errorMessage } from "@/lib/api";
import type { ChatMessage, DemoSettings } from "@/lib/modelPage";
import { clampSettings, DEMO_DEFAULTS, DEMO_LIMITS, generateBody, promptChars } from "@/lib/modelPage";
import { streamGenerate, type GenerateDone } from "@/lib/modelPageSse";
import { cn } from "@/lib/utils";

type Mode = "chat" | "complete";

const FINISH_LABEL: Record<string, string> = {
  stop: "finished",
  length: "reached the token limit",
  timeout: "stopped by the server's time limit",
  cancelled: "cancelled",
};

interface Turn extends ChatMessage {
  /** Set on the assistant turn being streamed. */
  streaming?: boolean;
  info?: GenerateDone & { stopped?: boolean; error?: string };
}

interface Problem {
  kind: "unavailable" | "busy" | "error";
  message: string;
}

function problemOf(err: unknown): Problem {
  if (err instanceof ApiError) {
    if (err.status === 409 || err.code === "model_unavailable") return { kind: "unavailable", message: err.message };
    if (err.status === 429) {
      const retry = (err.details as { retry_after?: number } | null)?.retry_after;
      return {
        kind: "busy",
        message: `${err.message || "Another generation is running on this server."}${retry ? ` Try again in ${retry} s.` : " Try again in a moment."}`,
      };
    }
  }
  return { kind: "error", message: errorMessage(err) };
}

function NumberSetting(props: { id: string; label: string; value: number | null; onChange: (v: number | null) => void; min: number; max?: number; step: number; hint: string; placeholder?: string }) {
  return (
    <div className="grid content-start gap-1">
      <Label htmlFor={props.id} className="text-xs">
        {props.label}
      </Label>
      <Input
        id={props.id}
        type="number"
        inputMode="decimal"
        min={props.min}
        max={props.max}
        step={props.step}
        value={props.value ?? ""}
        placeholder={props.placeholder}
        onChange={(e) => props.onChange(e.target.value === "" ? null : Number(e.target.value))}
        className="h-8"
      />
      <p className="text-[11px] text-muted-foreground">{props.hint}</p>
    </div>
  );
}

export function DemoPanel({
  modelId,
  modelName,
  available = true,
  unavailableReason,
}: {
  modelId: number;
  modelName: string;
  /** permissions.can_demo of the page: false shows why instead of the chat box. */
  available?: boolean;
  unavailableReason?: string | null;
}) {
  const [mode, setMode] = useState<Mode>("chat");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [input, setInput] = useState("");
  const [showSettings, setShowSettings] = useState(false);
  const [settings, setSettings] = useState<DemoSettings>(DEMO_DEFAULTS);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [running, setRunning] = useState(false);
  const abortRef = useRef<AbortController | null>(null);
  const endRef = useRef<HTMLDivElement | null>(null);

  useEffect(() => () => abortRef.current?.abort(), []);
  useEffect(() => {
    endRef.current?.scrollIntoView?.({ block: "nearest" });
  }, [turns]);

  const patchLast = (fn: (t: Turn) => Turn) =>
    setTurns((ts) => (ts.length ? [...ts.slice(0, -1), fn(ts[ts.length - 1])] : ts));

  const send = async () => {
    const text = input.trim();
    if (!text || running) return;
    const history: ChatMessage[] = mode === "chat" ? [...turns.filter((t) => !t.info?.error).map(({ role, content }) => ({ role, content })), { role: "user", content: text }] : [{ role: "user", content: text }];
    if (promptChars(history) > DEMO_LIMITS.prompt_chars) {
      setProblem({ kind: "error", message: `The conversation is longer than ${DEMO_LIMITS.prompt_chars} characters: clear it or shorten your message.` });
      return;
    }
    setProblem(null);
    const body = mode === "chat" ? generateBody(history, settings) : { ...generateBody([], settings), messages: undefined, prompt: text };
    setTurns((ts) => [...(mode === "chat" ? ts : []), { role: "user", content: text }, { role: "assistant", content: "", streaming: true }]);
    setInput("");
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    setRunning(true);
    try {
      const end = await streamGenerate(
        modelId,
        body,
        {
          onToken: (t) => patchLast((last) => ({ ...last, content: last.content + t })),
          onDone: (info) => patchLast((last) => ({ ...last, info })),
          onError: (message) => patchLast((last) => ({ ...last, info: { error: message } })),
        },
        ctrl.signal,
      );
      if (end === "stopped") patchLast((last) => ({ ...last, info: { ...last.info, stopped: true } }));
      if (end === "closed") patchLast((last) => ({ ...last, info: { ...last.info, error: last.info?.finish_reason ? undefined : "The stream ended early." } }));
    } catch (err) {
      // Refused before anything was generated: drop the empty reply, keep the question in the box.
      setTurns((ts) => ts.slice(0, -2));
      setInput(text);
      setProblem(problemOf(err));
    } finally {
      patchLast((last) => ({ ...last, streaming: false }));
      setRunning(false);
      abortRef.current = null;
    }
  };

  const stop = () => abortRef.current?.abort();

  if (!available) {
    return (
      <Card data-testid="demo-panel">
        <CardHeader>
          <CardTitle className="flex items-center gap-2 text-base">
            <MessageSquare className="size-4" aria-hidden /> Try it
          </CardTitle>
        </CardHeader>
        <CardContent>
          <p className="flex items-start gap-2 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950/40 dark:text-amber-200" data-testid="demo-unavailable" role="status">
            <AlertTriangle className="mt-0.5 size-4 shrink-0" aria-hidden />
            {unavailableReason || "This model cannot be run on this server: its weights are not here."}
          </p>
        </CardContent>
      </Card>
    );
  }

  return (
    <Card data-testid="demo-panel">
      <CardHeader className="flex-row flex-wrap items-start justify-between gap-2">
        <div className="grid gap-1">
          <CardTitle className="flex items-center gap-2 text-base">
            <MessageSquare className="size-4" aria-hidden /> Try it
          </CardTitle>
          <CardDescription>
            Runs {modelName} on this server (CPU), one request at a time. {mode === "chat" ? "Your messages are formatted with the model's chat template." : "The text is continued as is."}
          </CardDescription>
        </div>
        <div className="flex flex-wrap items-center gap-1">
          <div role="radiogroup" aria-label="Demo mode" className="inline-flex rounded-md border p-0.5">
            {(["chat", "complete"] as const).map((m) => (
              <button
                key={m}
                type="button"
                role="radio"
                aria-checked={mode === m}
                disabled={running}
                onClick={() => {
                  setMode(m);
                  setTurns([]);
                }}
                className={cn("rounded px-2 py-1 text-xs font-medium", mode === m ? "bg-accent text-foreground" : "text-muted-foreground hover:text-foreground")}
              >
                {m === "chat" ? "Chat" : "Complete text"}
              </button>
            ))}
          </div>
          <Button variant="ghost" size="sm" onClick={() => setShowSettings((v) => !v)} aria-expanded={showSettings} aria-controls="demo-settings" data-testid="demo-settings-toggle">
            <Settings2 aria-hidden /> Settings
          </Button>
          <Button variant="ghost" size="sm" onClick={() => setTurns([])} disabled={running || !turns.length}>
            <Eraser aria-hidden /> Clear
          </Button>
        </div>
      </CardHeader>
      <CardContent className="grid gap-3">
        {showSettings && (
          <div id="demo-settings" className="grid gap-3 rounded-md border bg-muted/30 p-3 sm:grid-cols-4" data-testid="demo-settings">
            <NumberSetting
              id="demo-max-tokens"
              label="Max new tokens"
              value={settings.max_new_tokens}
              min={1}
              max={DEMO_LIMITS.max_new_tokens}
              step={1}
              hint={`1–${DEMO_LIMITS.max_new_tokens}`}
              onChange={(v) => setSettings((s) => clampSettings({ ...s, max_new_tokens: v ?? DEMO_DEFAULTS.max_new_tokens }))}
            />
            <NumberSetting
              id="demo-temperature"
              label="Temperature"
              value={settings.temperature}
              min={0}
              max={DEMO_LIMITS.temperature}
              step={0.1}
              hint="0 = always the likeliest token"
              onChange={(v) => setSettings((s) => clampSettings({ ...s, temperature: v ?? DEMO_DEFAULTS.temperature }))}
            />
            <NumberSetting
              id="demo-top-p"
              label="Top p"
              value={settings.top_p}
              min={0.01}
              max={1}
              step={0.05}
              hint="Sample from the top share of probability"
              onChange={(v) => setSettings((s) => clampSettings({ ...s, top_p: v ?? DEMO_DEFAULTS.top_p }))}
            />
            <NumberSetting
              id="demo-seed"
              label="Seed"
              value={settings.seed}
              min={0}
              step={1}
              placeholder="random"
              hint="The same seed repeats an answer"
              onChange={(v) => setSettings((s) => clampSettings({ ...s, seed: v }))}
            />
          </div>
        )}
        {turns.length > 0 && (
          <div className="flex max-h-96 min-w-0 flex-col gap-2 overflow-y-auto rounded-md border p-3" data-testid="demo-transcript" aria-live="polite">
            {turns.map((t, i) => (
              <div key={i} className={cn("flex min-w-0 flex-col gap-0.5", t.role === "user" ? "items-end" : "items-start")}>
                <p className="text-[11px] font-medium text-muted-foreground">{t.role === "user" ? "You" : modelName}</p>
                <p
                  className={cn(
                    "max-w-[85%] whitespace-pre-wrap rounded-lg px-3 py-2 text-sm [overflow-wrap:anywhere]",
                    t.role === "user" ? "bg-primary text-primary-foreground" : "bg-muted",
                  )}
                  data-testid={t.role === "assistant" ? "demo-reply" : "demo-question"}
                  data-streaming={t.streaming || undefined}
                >
                  {t.content || (t.streaming ? <span className="text-muted-foreground">…</span> : <span className="text-muted-foreground italic">(no text)</span>)}
                </p>
                {t.role === "assistant" && t.info && (
                  <p className={cn("text-[11px]", t.info.error ? "text-destructive" : "text-muted-foreground")} data-testid="demo-info">
                    {t.info.error
                      ? t.info.error
                      : t.info.stopped
                        ? "Stopped."
                        : [
                            t.info.tokens != null ? `${t.info.tokens} tokens` : null,
                            t.info.seconds != null ? `${t.info.seconds.toFixed(1)} s` : null,
                            t.info.finish_reason ? FINISH_LABEL[t.info.finish_reason] ?? `ended: ${t.info.finish_reason}` : null,
                          ]
                            .filter(Boolean)
                            .join(" · ")}
                  </p>
                )}
              </div>
            ))}
            <div ref={endRef} />
          </div>
        )}
        {problem && (
          <p
            role="alert"
            data-testid={problem.kind === "unavailable" ? "demo-unavailable" : "demo-error"}
            className={cn(
              "flex items-start gap-2 rounded-md border p-3 text-sm",
              problem.kind === "error"
                ? "border-red-200 bg-red-50 text-red-900 dark:border-red-900 dark:bg-red-950/40 dark:text-red-200"
                : "border-amber-200 bg-amber-50 text-amber-900 dark:border-amber-900 dark:bg-amber-950/40 dark:text-amber-200",
            )}
          >
            <AlertTriangle className="mt-0.5 size-4 shrink-0" aria-hidden />
            {problem.message}
          </p>
        )}
        <form
          className="grid gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            void send();
          }}
        >
          <Label htmlFor="demo-input" className="sr-only">
            {mode === "chat" ? "Your message" : "Text to continue"}
          </Label>
          <Textarea
            id="demo-input"
            data-testid="demo-input"
            value={input}
            maxLength={DEMO_LIMITS.prompt_chars}
            rows={3}
            className="min-h-20"
            placeholder={mode === "chat" ? "Ask something…" : "Start a text for the model to continue…"}
            onChange={(e) => setInput(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
                e.preventDefault();
                void send();
              }
            }}
          />
          <div className="flex flex-wrap items-center gap-2">
            {running ? (
              <Button type="button" variant="outline" onClick={stop} data-testid="demo-stop">
                <Square aria-hidden /> Stop
              </Button>
            ) : (
              <Button type="submit" disabled={!input.trim()} data-testid="demo-send">
                <Send aria-hidden /> {mode === "chat" ? "Send" : "Generate"}
              </Button>
            )}
            <span className="text-xs text-muted-foreground">
              Enter sends, Shift+Enter adds a line · up to {settings.max_new_tokens} new tokens
              {running ? " · generating…" : ""}
            </span>
          </div>
        </form>
      </CardContent>
    </Card>
  );
}
