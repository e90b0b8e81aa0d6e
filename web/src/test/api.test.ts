import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, apiUrl, buildQuery, readCsrfToken, setUnauthorizedHandler } from "@/lib/api";

afterEach(() => {
  vi.unstubAllGlobals();
  document.cookie = "mm_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
});

function stubFetch(status: number, body: unknown) {
  const fn = vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json" } }));
  vi.stubGlobal("fetch", fn);
  return fn;
}

describe("api wrapper", () => {
  it("builds repeated query parameters and skips empty values", () => {
    expect(buildQuery({ status: ["a", "b"], q: "", x: undefined, limit: 5 })).toBe("?status=a&status=b&limit=5");
  });

  it("sends the CSRF token from a *csrf* cookie on unsafe methods only", async () => {
    document.cookie = "mm_csrf=tok%2Ben; path=/";
    expect(readCsrfToken()).toBe("tok+en");
    const fn = stubFetch(200, { ok: true });
    await api.get("/entries");
    await api.post("/entries", { body: { name: "x" } });
    const [getInit, postInit] = fn.mock.calls.map((c) => (c as unknown as [string, RequestInit])[1]);
    expect((getInit.headers as Record<string, string>)["X-CSRF-Token"]).toBeUndefined();
    expect((postInit.headers as Record<string, string>)["X-CSRF-Token"]).toBe("tok+en");
    expect((fn.mock.calls[1] as unknown as [string])[0]).toBe("/api/v1/entries");
  });

  it("parses the error shape into an ApiError", async () => {
    stubFetch(409, { error: { code: "conflict", message: "already logged", details: { id: 3 } } });
    const err = await api.post("/entries", { body: { name: "x" } }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: "conflict", message: "already logged", details: { id: 3 } });
  });

  it("calls the unauthorized hook on 401", async () => {
    const hook = vi.fn();
    setUnauthorizedHandler(hook);
    stubFetch(401, { error: { code: "unauthorized", message: "log in" } });
    await expect(api.get("/entries")).rejects.toBeInstanceOf(ApiError);
    expect(hook).toHaveBeenCalledOnce();
  });

  it("fills the path parameters (URL-encoded) and appends the query", async () => {
    const fn = stubFetch(200, {});
    await api.get("/hub/models/{owner}/{slug}", { path: { owner: "al ice", slug: "a/b" } });
    await api.get("/entries/{entry_id}/similar", { path: { entry_id: 7 }, query: { limit: 5 } });
    await api.patch("/entries/{entry_id}/journal/{note_id}", { path: { entry_id: 3, note_id: 9 }, body: { body: "x" } });
    const urls = fn.mock.calls.map((c) => (c as unknown as [string])[0]);
    expect(urls).toEqual(["/api/v1/hub/models/al%20ice/a%2Fb", "/api/v1/entries/7/similar?limit=5", "/api/v1/entries/3/journal/9"]);
    const init = (fn.mock.calls[2] as unknown as [string, RequestInit])[1];
    expect(init.method).toBe("PATCH");
    expect(init.body).toBe(JSON.stringify({ body: "x" }));
  });

  it("sends a FormData as it is (multipart), with the query and extra headers", async () => {
    const fn = stubFetch(200, { created: 0 });
    const form = new FormData();
    form.append("file", new Blob(["a,b"]), "x.csv");
    await api.post("/import", { form, query: { format: "csv", dry_run: true }, headers: { "X-Test": "1" } });
    const [url, init] = fn.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/v1/import?format=csv&dry_run=true");
    expect(init.body).toBe(form);
    expect((init.headers as Record<string, string>)["Content-Type"]).toBeUndefined();
    expect((init.headers as Record<string, string>)["X-Test"]).toBe("1");
  });

  it("answers undefined for 204 and the text of a non-JSON answer", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(null, { status: 204 })));
    await expect(api.delete("/entries/{entry_id}", { path: { entry_id: 1 } })).resolves.toBeUndefined();
    vi.stubGlobal("fetch", vi.fn(async () => new Response("# card", { status: 200, headers: { "content-type": "text/markdown" } })));
    await expect(api.get("/research/card")).resolves.toBe("# card");
  });

  it("refuses a path whose parameter is missing at run time too", () => {
    expect(() => api.get("/entries/{entry_id}", { path: {} as { entry_id: number } })).toThrow("missing path parameter entry_id");
  });

  it("builds same-origin URLs for links and streams", () => {
    expect(apiUrl("/hub/models/{model_id}/download", { model_id: 12 })).toBe("/api/v1/hub/models/12/download");
    expect(apiUrl("/research/export", undefined, { format: "csv" })).toBe("/api/v1/research/export?format=csv");
  });
});
