import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/lib/api";
import { SseParser, streamGenerate } from "@/lib/modelPageSse";

describe("SseParser", () => {
  it("parses events split at any point across chunks", () => {
    const text = 'event: token\ndata: {"text":"Hel"}\n\nevent: token\ndata: {"text":"lo"}\n\nevent: done\ndata: {"tokens":2}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const events = [...p.feed(text.slice(0, cut)), ...p.feed(text.slice(cut))];
      expect(events.map((e) => [e.event, e.data])).toEqual([
        ["token", '{"text":"Hel"}'],
        ["token", '{"text":"lo"}'],
        ["done", '{"tokens":2}'],
      ]);
    }
  });

  it("handles CRLF and lone CR line ends, also when a CRLF is split between chunks", () => {
    const p = new SseParser();
    expect(p.feed("event: a\r")).toEqual([]);
    expect(p.feed("\ndata: 1\r\n\r")).toEqual([]);
    // The last \r may be the first half of a \r\n: event b waits for the next character.
    expect(p.feed("\nevent: b\rdata: 2\r\r")).toEqual([{ event: "a", data: "1" }]);
    expect(p.feed("data: 3\n\n")).toEqual([
      { event: "b", data: "2" },
      { event: "message", data: "3" },
    ]);
  });

  it("joins multi-line data, ignores comments and unknown fields, defaults the type to message", () => {
    const p = new SseParser();
    const out = p.feed(": keep-alive\nretry: 10\ndata: first\ndata:second\nbogus: x\n\n");
    expect(out).toEqual([{ event: "message", data: "first\nsecond" }]);
  });

  it("drops events without data and an unterminated last event", () => {
    const p = new SseParser();
    expect(p.feed("event: token\n\ndata: x")).toEqual([]);
    expect(p.end()).toEqual([]);
    // After end() the parser starts clean.
    expect(p.feed("data: y\n\n")).toEqual([{ event: "message", data: "y" }]);
  });

  it("keeps a space inside the value and only strips the first one", () => {
    const p = new SseParser();
    expect(p.feed("data:  two spaces\n\n")).toEqual([{ event: "message", data: " two spaces" }]);
  });
});

function streamResponse(chunks: string[], { delayMs = 0, status = 200, headers = {} }: { delayMs?: number; status?: number; headers?: Record<string, string> } = {}) {
  const enc = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      if (i < chunks.length) ctrl.enqueue(enc.encode(chunks[i++]));
      else ctrl.close();
    },
  });
  return new Response(body, { status, headers: { "Content-Type": "text/event-stream", ...headers } });
}

describe("streamGenerate", () => {
  afterEach(() => {
    document.cookie = "mm_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  });

  it("POSTs the body with the CSRF header and streams the tokens in order", async () => {
    document.cookie = "mm_csrf=tok123";
    const fetchMock = vi.fn(async () =>
      streamResponse(['event: token\ndata: {"text":"Hel', 'lo"}\n\nevent: token\ndata: {"text":" world"}\n', '\nevent: done\ndata: {"tokens":2,"seconds":0.5,"finish_reason":"eos"}\n\n']),
    );
    const tokens: string[] = [];
    const done = vi.fn();
    const end = await streamGenerate(7, { prompt: "hi" }, { onToken: (t) => tokens.push(t), onDone: done }, undefined, fetchMock as unknown as typeof fetch);
    expect(end).toBe("done");
    expect(tokens).toEqual(["Hello", " world"]);
    expect(done).toHaveBeenCalledWith({ tokens: 2, seconds: 0.5, finish_reason: "eos" });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/v1/models/7/generate");
    expect(init.method).toBe("POST");
    expect((init.headers as Record<string, string>)["X-CSRF-Token"]).toBe("tok123");
    expect(JSON.parse(String(init.body))).toEqual({ prompt: "hi" });
  });

  it("reports an error event and stops there", async () => {
    const fetchMock = async () => streamResponse(['event: token\ndata: {"text":"a"}\n\nevent: error\ndata: {"message":"timed out"}\n\nevent: token\ndata: {"text":"b"}\n\n']);
    const tokens: string[] = [];
    const errors: string[] = [];
    const end = await streamGenerate(1, {}, { onToken: (t) => tokens.push(t), onError: (m) => errors.push(m) }, undefined, fetchMock as unknown as typeof fetch);
    expect(end).toBe("error");
    expect(tokens).toEqual(["a"]);
    expect(errors).toEqual(["timed out"]);
  });

  it("turns a refusal before streaming into an ApiError with the server's message", async () => {
    const body = JSON.stringify({ error: { code: "model_unavailable", message: "The base model is not downloaded here." } });
    const fetchMock = async () => new Response(body, { status: 409, headers: { "Content-Type": "application/json" } });
    await expect(streamGenerate(1, {}, { onToken: () => {} }, undefined, fetchMock as unknown as typeof fetch)).rejects.toMatchObject({
      status: 409,
      code: "model_unavailable",
      message: "The base model is not downloaded here.",
    });
  });

  it("passes Retry-After of a busy server on", async () => {
    const body = JSON.stringify({ error: { code: "busy", message: "Another generation is running." } });
    const fetchMock = async () => new Response(body, { status: 429, headers: { "Content-Type": "application/json", "Retry-After": "3" } });
    const err = await streamGenerate(1, {}, { onToken: () => {} }, undefined, fetchMock as unknown as typeof fetch).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.details).toEqual({ retry_after: 3 });
  });

  it("ends with 'stopped' when aborted mid-stream, without delivering later tokens", async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => `event: token\ndata: {"text":"t${i}"}\n\n`);
    const fetchMock = async (_: string, init: RequestInit) => {
      const resp = streamResponse(chunks, { delayMs: 5 });
      init.signal?.addEventListener("abort", () => {});
      return resp;
    };
    const ctrl = new AbortController();
    const tokens: string[] = [];
    const end = await streamGenerate(
      1,
      {},
      {
        onToken: (t) => {
          tokens.push(t);
          if (tokens.length === 3) ctrl.abort();
        },
      },
      ctrl.signal,
      fetchMock as unknown as typeof fetch,
    );
    expect(end).toBe("stopped");
    expect(tokens).toEqual(["t0", "t1", "t2"]);
  });

  it("says 'closed' when the stream ends without a done event", async () => {
    const fetchMock = async () => streamResponse(['event: token\ndata: {"text":"x"}\n\n']);
    const end = await streamGenerate(1, {}, { onToken: () => {} }, undefined, fetchMock as unknown as typeof fetch);
    expect(end).toBe("closed");
  });
});
