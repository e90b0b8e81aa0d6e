// The one fetch wrapper of the UI: same-origin /api/v1, JSON in and out, our error shape parsed into ApiError,
// CSRF header on unsafe methods, 401 → /login?next=... . Response types come from the generated client.
import type { ApiPath } from "@/client";

export const API_BASE = "/api/v1";

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = "ApiError";
    this.status = status;
    this.code = body.code;
    this.details = body.details;
  }
}

type Scalar = string | number | boolean | null | undefined;
export type Query = Record<string, Scalar | Scalar[]>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  form?: FormData;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Paths as the generated client spells them, minus the /api/v1 prefix, e.g. "/entries/{entry_id}". */
export type ClientPath = ApiPath extends `/api/v1${infer P}` ? P : never;

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function readCsrfToken(cookie: string = typeof document === "undefined" ? "" : document.cookie): string | null {
  // Read fresh on every request: login/logout replace the cookie. Our own `mm_csrf` wins over any other *csrf*
  // cookie (cookies are per host, not per port, so another local app's cookie may be visible here too).
  let fallback: string | null = null;
  for (const part of cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = decodeURIComponent(part.slice(eq + 1).trim());
    if (name === "mm_csrf") return value;
    if (fallback === null && name.toLowerCase().includes("csrf")) fallback = value;
  }
  return fallback;
}

export function buildQuery(query?: Query): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (v === undefined || v === null || v === "") continue;
      params.append(key, String(v));
    }
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/** Fill `{name}` placeholders of a generated path with (URL-encoded) values. */
export function fillPath(path: string, params: Record<string, string | number> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (!(k in params)) throw new Error(`missing path parameter ${k} for ${path}`);
    return encodeURIComponent(String(params[k]));
  });
}

let onUnauthorized = (): void => {
  const here = window.location.pathname + window.location.search;
  if (!window.location.pathname.startsWith("/login")) {
    window.location.assign(`/login?next=${encodeURIComponent(here)}`);
  }
};
/** The login page (a later task) may replace the 401 behaviour; tests use it too. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

async function parseError(resp: Response): Promise<ApiError> {
  let body: ApiErrorBody = { code: `http_${resp.status}`, message: resp.statusText || `request failed (${resp.status})` };
  try {
    const data = await resp.json();
    if (data && typeof data === "object" && data.error && typeof data.error.message === "string") body = data.error;
  } catch {
    /* not JSON: keep the status text */
  }
  return new ApiError(resp.status, body);
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  if (UNSAFE.has(method)) {
    const token = readCsrfToken();
    if (token) headers["X-CSRF-Token"] = token;
  }
  const resp = await fetch(`${API_BASE}${path}${buildQuery(opts.query)}`, {
    method,
    headers,
    body,
    credentials: "same-origin",
    signal: opts.signal,
  });
  if (resp.status === 401) {
    onUnauthorized();
    throw await parseError(resp);
  }
  if (!resp.ok) throw await parseError(resp);
  if (resp.status === 204) return undefined as T;
  const type = resp.headers.get("content-type") ?? "";
  return (type.includes("json") ? await resp.json() : await resp.text()) as T;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>("GET", path, { query, signal }),
  post: <T>(path: string, body?: unknown, query?: Query, headers?: Record<string, string>) =>
    request<T>("POST", path, { body, query, headers }),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, { body }),
  del: <T = void>(path: string) => request<T>("DELETE", path),
  upload: <T>(path: string, form: FormData, query?: Query) => request<T>("POST", path, { form, query }),
};

/**
 * A multipart upload that reports progress (fetch cannot report upload progress; XMLHttpRequest can). Same rules as
 * request(): CSRF header, our error shape → ApiError, 401 → login. `onProgress` gets 0..1.
 */
export function uploadWithProgress<T>(
  path: string,
  form: FormData,
  { onProgress, onStatus, signal }: { onProgress?: (fraction: number) => void; onStatus?: (status: number) => void; signal?: AbortSignal } = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API_BASE}${path}`);
    xhr.setRequestHeader("Accept", "application/json");
    const token = readCsrfToken();
    if (token) xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.withCredentials = true;
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.total ? e.loaded / e.total : 0);
    };
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    xhr.onerror = () => reject(new ApiError(0, { code: "network_error", message: "The upload failed: network error." }));
    xhr.onabort = () => reject(new ApiError(0, { code: "aborted", message: "The upload was cancelled." }));
    xhr.onload = () => {
      signal?.removeEventListener("abort", abort);
      let data: unknown = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.(1);
        onStatus?.(xhr.status);
        resolve(data as T);
        return;
      }
      if (xhr.status === 401) onUnauthorized();
      const err = (data as { error?: ApiErrorBody } | null)?.error;
      reject(
        new ApiError(
          xhr.status,
          err && typeof err.message === "string"
            ? err
            : { code: `http_${xhr.status}`, message: xhr.statusText || `upload failed (${xhr.status})` },
        ),
      );
    };
    xhr.send(form);
  });
}

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
