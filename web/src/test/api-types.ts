// Type-level checks of the path-typed API client (src/lib/api.ts). This file is only compiled (`npm run typecheck`,
// which `npm run build` runs too), never executed: each `@ts-expect-error` line MUST fail to type-check, and tsc
// fails when one stops failing ("Unused '@ts-expect-error' directive"). The functions are never called.
import type { EntryOut, EntryPage, ImportReport, RunLog } from "@/client";
import { api, apiUrl, fillPath, uploadWithProgress, type ClientPath, type ResponseOf } from "@/lib/api";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

export async function pathTypedClientChecks(signal: AbortSignal): Promise<void> {
  // Right path, method and parameters: the response type is derived, not chosen by the caller.
  const entry = await api.get("/entries/{entry_id}", { path: { entry_id: 3 }, signal });
  assertType<Equal<typeof entry, EntryOut>>();
  const page = await api.get("/entries", { query: { status: ["using"], limit: 5 } });
  assertType<Equal<typeof page, EntryPage>>();
  const log = await api.get("/runs/{run_id}/log", { path: { run_id: 7 } });
  assertType<Equal<typeof log, RunLog>>();
  const removed = await api.delete("/entries/{entry_id}", { path: { entry_id: 3 } });
  assertType<Equal<typeof removed, void>>();
  const card = await api.get("/research/card");
  assertType<Equal<typeof card, string>>();
  const report = await api.post("/import", { form: new FormData(), query: { dry_run: true } });
  assertType<Equal<typeof report, ImportReport>>();
  assertType<Equal<ResponseOf<"/entries", "post">, EntryOut>>();

  // A wrong path.
  // @ts-expect-error "/entry" is not a path of the API
  await api.get("/entry");
  // @ts-expect-error a filled-in path is not a generated path: pass the id as a path parameter
  await api.get(`/entries/${entry.id}`);
  // A wrong method.
  // @ts-expect-error /dashboard serves GET only
  await api.delete("/dashboard");
  // @ts-expect-error /entries/{entry_id} takes PATCH, not PUT
  await api.put("/entries/{entry_id}", { path: { entry_id: 3 }, body: {} });
  // A wrong response type.
  // @ts-expect-error GET /entries answers an EntryPage, not an EntryOut
  const wrong: EntryOut = await api.get("/entries");
  void wrong;
  // @ts-expect-error the response type is derived: the caller cannot pick one
  await api.get<EntryOut>("/entries");
  // A missing path parameter.
  // @ts-expect-error the {entry_id} parameter is missing
  await api.get("/entries/{entry_id}");
  // @ts-expect-error the {entry_id} parameter is missing
  await api.get("/entries/{entry_id}", { path: {} });
  // @ts-expect-error a path parameter of the wrong name
  await api.get("/entries/{entry_id}", { path: { id: 3 } });
  // A wrong query parameter or body.
  // @ts-expect-error "archive" is not an EntryStatus
  await api.get("/entries", { query: { status: ["archive"] } });
  // @ts-expect-error POST /entries needs a body
  await api.post("/entries");
  // @ts-expect-error a multipart endpoint takes a FormData, not JSON
  await api.post("/import", { body: {} });
  // @ts-expect-error only multipart endpoints can be uploaded to
  await uploadWithProgress("/entries", new FormData());
  // Links and streams built from a generated path.
  void apiUrl("/hub/models/{model_id}/download", { model_id: 1 });
  // @ts-expect-error the {model_id} parameter is missing
  void apiUrl("/hub/models/{model_id}/download");
  // @ts-expect-error "/download" is not a path of the API
  void apiUrl("/download");
  // @ts-expect-error a ClientPath is spelled without the /api/v1 prefix
  const prefixed: ClientPath = "/api/v1/entries";
  void prefixed;
  const p: ClientPath = "/entries/{entry_id}/journal/{note_id}";
  void fillPath(p, { entry_id: 1, note_id: 2 });
}
