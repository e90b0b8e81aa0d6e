// Server-sent events over fetch: the demo's POST /models/{id}/generate answers with `text/event-stream`, which
// EventSource cannot do (GET only, no body, no CSRF header). SseParser implements the WHATWG event-stream parsing
// rules on chunks as they arrive; streamGenerate() drives one generation.
import { ApiError, apiUrl, readCsrfToken } from "./api";

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Incremental event-stream parser. Feed it decoded text in any chunking; it returns the events completed by that
 * chunk. Lines end with \n, \r\n or \r (a \r at the end of a chunk waits for a possible \n); `data` lines of one
 * event are joined with \n; comments (":...") and unknown fields are ignored; an event without data is dropped.
 */
export class SseParser {
  private buffer = "";
  private eventType = "";
  private data: string[] = [];
  private hasData = false;
  private lastId: string | undefined;

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      if (c === "\r" && i === this.buffer.length - 1) break; // maybe half of a \r\n: wait for the next chunk
      const line = this.buffer.slice(start, i);
      if (c === "\r" && this.buffer[i + 1] === "\n") i++;
      start = i + 1;
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** End of stream: a last event without its blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    const rest = this.buffer;
    this.buffer = "";
    if (rest) this.line(rest);
    this.reset();
    return [];
  }

  private reset() {
    this.eventType = "";
    this.data = [];
    this.hasData = false;
  }

  private line(line: string): SseEvent | null {
    if (line === "") {
      if (!this.hasData) {
        this.reset();
        return null;
      }
      const ev: SseEvent = { event: this.eventType || "message", data: this.data.join("\n") };
      if (this.lastId !== undefined) ev.id = this.lastId;
      this.reset();
      return ev;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.eventType = value;
    else if (field === "data") {
      this.data.push(value);
      this.hasData = true;
    } else if (field === "id" && !value.includes("\0")) this.lastId = value;
    return null;
  }
}

/** Parse an event's JSON data; a non-JSON payload comes back as `{ text: data }`. */
export function eventJson(ev: SseEvent): Record<string, unknown> {
  try {
    const v = JSON.parse(ev.data);
    return v && typeof v === "object" ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { text: ev.data };
  }
}

export interface GenerateDone {
  tokens?: number;
  seconds?: number;
  finish_reason?: string;
}

export interface GenerateHandlers {
  onToken: (text: string) => void;
  onDone?: (info: GenerateDone) => void;
  /** An `event: error` from the server once the stream had started. */
  onError?: (message: string) => void;
}

/** The outcome of one generation: how it ended. */
export type GenerateEnd = "done" | "error" | "stopped" | "closed";

/**
 * POST /models/{id}/generate and stream the tokens to `handlers`. Refusals before streaming (404, 409
 * model_unavailable, 429 busy, 422) throw an ApiError with the server's message (429: details.retry_after from
 * Retry-After). Aborting `signal` stops reading and ends with "stopped" (the server notices the closed connection).
 */
export async function streamGenerate(
  modelId: number,
  body: Record<string, unknown>,
  handlers: GenerateHandlers,
  signal?: AbortSignal,
  fetchImpl: typeof fetch = fetch,
): Promise<GenerateEnd> {
  const headers: Record<string, string> = { Accept: "text/event-stream", "Content-Type": "application/json" };
  const csrf = readCsrfToken();
  if (csrf) headers["X-CSRF-Token"] = csrf;
  let resp: Response;
  try {
    resp = await fetchImpl(apiUrl("/models/{model_id}/generate", { model_id: modelId }), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (err) {
    if (signal?.aborted) return "stopped";
    throw new ApiError(0, { code: "network_error", message: `The demo could not reach the server: ${err instanceof Error ? err.message : String(err)}` });
  }
  if (!resp.ok) {
    let error = { code: `http_${resp.status}`, message: resp.statusText || `request failed (${resp.status})`, details: undefined as unknown };
    try {
      const data = await resp.json();
      if (data?.error?.message) error = { ...error, ...data.error };
    } catch {
      /* not JSON */
    }
    const retry = resp.headers.get("Retry-After");
    if (resp.status === 429 && retry) error.details = { ...(error.details as object | undefined), retry_after: Number(retry) };
    throw new ApiError(resp.status, error);
  }
  if (!resp.body) throw new ApiError(0, { code: "no_stream", message: "The server sent no stream." });

  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal?.aborted) return "stopped";
        throw err;
      }
      if (signal?.aborted) return "stopped";
      const events = chunk.done ? [...parser.feed(decoder.decode()), ...parser.end()] : parser.feed(decoder.decode(chunk.value, { stream: true }));
      for (const ev of events) {
        if (signal?.aborted) return "stopped";
        const data = eventJson(ev);
        if (ev.event === "token") handlers.onToken(String(data.text ?? ""));
        else if (ev.event === "done") {
          handlers.onDone?.(data as GenerateDone);
          return "done";
        } else if (ev.event === "error") {
          handlers.onError?.(String(data.message ?? "The generation failed."));
          return "error";
        }
      }
      if (chunk.done) return signal?.aborted ? "stopped" : "closed";
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (signal?.aborted) reader.cancel().catch(() => {});
  }
}
