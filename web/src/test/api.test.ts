import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, buildQuery, readCsrfToken, setUnauthorizedHandler } from "@/lib/api";

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
    await api.post("/entries", { name: "x" });
    const [getInit, postInit] = fn.mock.calls.map((c) => (c as unknown as [string, RequestInit])[1]);
    expect((getInit.headers as Record<string, string>)["X-CSRF-Token"]).toBeUndefined();
    expect((postInit.headers as Record<string, string>)["X-CSRF-Token"]).toBe("tok+en");
    expect((fn.mock.calls[1] as unknown as [string])[0]).toBe("/api/v1/entries");
  });

  it("parses the error shape into an ApiError", async () => {
    stubFetch(409, { error: { code: "conflict", message: "already logged", details: { id: 3 } } });
    const err = await api.post("/entries", {}).catch((e) => e);
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
});
