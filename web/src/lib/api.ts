// The one fetch wrapper of the UI: same-origin /api/v1, JSON in and out, our error shape parsed into ApiError,
// CSRF header on unsafe methods, 401 → /login?next=... . Typed by path: a caller names a path as the generated
// client spells it ("/entries/{entry_id}") and a method; the path parameters, query, body and response types all
// come from the generated `paths` (src/client/schema.ts), so a wrong path, method, parameter or response type is
// a compile error. Callers never supply a response type.
import type { paths } from "@/client";

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
export type ClientPath = keyof paths extends infer K ? (K extends `/api/v1${infer P}` ? P : never) : never;

export type Method = "get" | "put" | "post" | "delete" | "patch";

/** The generated operation of `method` on `path` (never when the path does not serve that method). */
export type Operation<P extends ClientPath, M extends Method> = NonNullable<paths[`/api/v1${P}`][M]>;

/** The paths that serve `method`, e.g. PathsFor<"delete">. */
export type PathsFor<M extends Method> = {
  [P in ClientPath]: paths[`/api/v1${P}`][M] extends { responses: unknown } ? P : never;
}[ClientPath];

type Params<O, Where extends "path" | "query"> = O extends { parameters: { [K in Where]?: infer X } } ? NonNullable<X> : never;
type Content<O> = O extends { requestBody?: { content: infer C } } ? C : never;
type JsonBody<O> = Content<O> extends { "application/json": infer B } ? B : never;
type FormBody<O> = Content<O> extends { "multipart/form-data": unknown } ? FormData : never;
type BodyRequired<O> = O extends { requestBody: unknown } ? true : false;
type SuccessCode = 200 | 201 | 202 | 203 | 204;
type MediaValue<C> = [C] extends [never]
  ? void
  : C extends { "application/json": infer J }
    ? J
    : C extends Record<string, unknown>
      ? string // markdown, csv, plain text: the wrapper hands back the body as text
      : void;
type Success<O> = O extends { responses: infer R }
  ? { [C in keyof R & SuccessCode]: R[C] extends { content: infer Ct } ? MediaValue<Ct> : void }[keyof R & SuccessCode]
  : never;

/** What a successful `method` on `path` answers (void for 204). */
export type ResponseOf<P extends ClientPath, M extends Method> = Success<Operation<P, M>>;
/** The JSON body `method` on `path` takes. */
export type BodyOf<P extends ClientPath, M extends Method> = JsonBody<Operation<P, M>>;
/** The query parameters `method` on `path` takes. */
export type QueryOf<P extends ClientPath, M extends Method> = Params<Operation<P, M>, "query">;
/** The path parameters `method` on `path` takes. */
export type PathParamsOf<P extends ClientPath, M extends Method> = Params<Operation<P, M>, "path">;

type PathPart<O> = [Params<O, "path">] extends [never] ? { path?: never } : { path: Params<O, "path"> };
type QueryPart<O> = [Params<O, "query">] extends [never] ? { query?: never } : { query?: Params<O, "query"> };
type BodyPart<O> = [JsonBody<O>] extends [never]
  ? [FormBody<O>] extends [never]
    ? { body?: never; form?: never }
    : BodyRequired<O> extends true
      ? { form: FormData; body?: never }
      : { form?: FormData; body?: never }
  : BodyRequired<O> extends true
    ? { body: JsonBody<O>; form?: never }
    : { body?: JsonBody<O>; form?: never };

/** Everything but the path and method of one call: path parameters, query, body, signal, extra headers. */
export type CallInit<P extends ClientPath, M extends Method> = PathPart<Operation<P, M>> &
  QueryPart<Operation<P, M>> &
  BodyPart<Operation<P, M>> & { signal?: AbortSignal; headers?: Record<string, string> };

type HasRequired<T> = { [K in keyof T]-?: undefined extends T[K] ? never : K }[keyof T] extends never ? false : true;
/** The init argument is optional exactly when nothing in it is required. */
type InitArg<P extends ClientPath, M extends Method> =
  HasRequired<CallInit<P, M>> extends true ? [init: CallInit<P, M>] : [init?: CallInit<P, M>];

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
export function fillPath(path: string, params: Readonly<Record<string, string | number>> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (!(k in params)) throw new Error(`missing path parameter ${k} for ${path}`);
    return encodeURIComponent(String(params[k]));
  });
}

type AnyPathParams<P extends ClientPath> = Params<NonNullable<paths[`/api/v1${P}`][Method]>, "path">;

/**
 * The same-origin URL of a generated path with its parameters filled in and an optional query: for what the wrapper
 * does not fetch itself (an SSE stream read with fetch, a download link, an export link).
 */
export function apiUrl<P extends ClientPath>(
  path: P,
  ...[params, query]: [AnyPathParams<P>] extends [never] ? [params?: undefined, query?: Query] : [params: AnyPathParams<P>, query?: Query]
): string {
  return `${API_BASE}${fillPath(path, params as Record<string, string | number> | undefined)}${buildQuery(query)}`;
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

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
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

function call<M extends Method>(method: M) {
  return <P extends PathsFor<M>>(path: P, ...[init]: InitArg<P, M>): Promise<ResponseOf<P, M>> => {
    const opts = (init ?? {}) as RequestOptions & { path?: Record<string, string | number> };
    return request<ResponseOf<P, M>>(method.toUpperCase(), fillPath(path, opts.path), opts);
  };
}

/** `api.get("/entries/{entry_id}", { path: { entry_id: 3 } })`: everything typed from the generated `paths`. */
export const api = {
  get: call("get"),
  post: call("post"),
  put: call("put"),
  patch: call("patch"),
  delete: call("delete"),
};

/** The paths that take a multipart POST without path parameters (what uploadWithProgress serves). */
export type UploadPath = {
  [P in PathsFor<"post">]: [FormBody<Operation<P, "post">>] extends [never]
    ? never
    : [PathParamsOf<P, "post">] extends [never]
      ? P
      : never;
}[PathsFor<"post">];

/**
 * A multipart upload that reports progress (fetch cannot report upload progress; XMLHttpRequest can). Same rules as
 * request(): CSRF header, our error shape → ApiError, 401 → login. `onProgress` gets 0..1.
 */
export function uploadWithProgress<P extends UploadPath>(
  path: P,
  form: FormData,
  { onProgress, onStatus, signal }: { onProgress?: (fraction: number) => void; onStatus?: (status: number) => void; signal?: AbortSignal } = {},
): Promise<ResponseOf<P, "post">> {
  type T = ResponseOf<P, "post">;
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API_BASE}${fillPath(path)}`);
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
