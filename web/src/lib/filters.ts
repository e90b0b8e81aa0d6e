import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router";
import type { EntryStatus, ModelType, SortField } from "@/client";
import type { QueryOf } from "./api";
import { ENTRY_STATUS_LABEL, MODEL_TYPE_LABEL, parseEnum, SORT_LABEL } from "./enums";

/** The query of GET /entries, as the generated client types it. */
export type EntriesQuery = NonNullable<QueryOf<"/entries", "get">>;

export interface EntryFilters {
  q: string;
  status: EntryStatus[];
  model_type: ModelType[];
  tag: string[];
  tag_mode: "any" | "all";
  date_from: string;
  date_to: string;
  sort: SortField;
  order: "asc" | "desc";
  page: number;
  view: "table" | "cards";
}

export const PAGE_SIZE = 24;
export const DEFAULT_FILTERS: EntryFilters = {
  q: "",
  status: [],
  model_type: [],
  tag: [],
  tag_mode: "any",
  date_from: "",
  date_to: "",
  sort: "updated",
  order: "desc",
  page: 1,
  view: "table",
};

/** The values of a repeated URL parameter that belong to the enum (others are dropped: the server would refuse them). */
function enumsOf<T extends string>(labels: Record<T, string>, raw: string[]): T[] {
  return raw.flatMap((v) => parseEnum(labels, v) ?? []);
}

export function parseFilters(params: URLSearchParams): EntryFilters {
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  return {
    q: params.get("q") ?? "",
    status: enumsOf(ENTRY_STATUS_LABEL, params.getAll("status")),
    model_type: enumsOf(MODEL_TYPE_LABEL, params.getAll("model_type")),
    tag: params.getAll("tag"),
    tag_mode: params.get("tag_mode") === "all" ? "all" : "any",
    date_from: params.get("date_from") ?? "",
    date_to: params.get("date_to") ?? "",
    sort: parseEnum(SORT_LABEL, params.get("sort")) ?? DEFAULT_FILTERS.sort,
    order: params.get("order") === "asc" ? "asc" : "desc",
    page: Number.isFinite(page) && page > 0 ? page : 1,
    view: params.get("view") === "cards" ? "cards" : "table",
  };
}

/** Only non-default values go into the URL, so a bookmarked view stays short and readable. */
export function filtersToParams(f: EntryFilters): URLSearchParams {
  const p = new URLSearchParams();
  if (f.q) p.set("q", f.q);
  f.status.forEach((s) => p.append("status", s));
  f.model_type.forEach((s) => p.append("model_type", s));
  f.tag.forEach((s) => p.append("tag", s));
  if (f.tag_mode !== "any") p.set("tag_mode", f.tag_mode);
  if (f.date_from) p.set("date_from", f.date_from);
  if (f.date_to) p.set("date_to", f.date_to);
  if (f.sort !== DEFAULT_FILTERS.sort) p.set("sort", f.sort);
  if (f.order !== DEFAULT_FILTERS.order) p.set("order", f.order);
  if (f.page > 1) p.set("page", String(f.page));
  if (f.view !== DEFAULT_FILTERS.view) p.set("view", f.view);
  return p;
}

/** What narrows the entries (no sort, no page): the part of the API query the facet counts depend on. */
function filterPart(f: EntryFilters): EntriesQuery {
  return {
    q: f.q || undefined,
    status: f.status,
    model_type: f.model_type,
    tag: f.tag,
    tag_mode: f.tag.length > 1 ? f.tag_mode : undefined,
    date_from: f.date_from || undefined,
    date_to: f.date_to || undefined,
  };
}

/** The API query for one page of entries (GET /entries), without facet counts. */
export function filtersToQuery(f: EntryFilters): EntriesQuery {
  return { ...filterPart(f), sort: f.sort, order: f.order, limit: PAGE_SIZE, offset: (f.page - 1) * PAGE_SIZE };
}

/** The API query for the facet counts of a set of filters: asked once per filter change, never for paging or
 * sorting (the counts are the costly part of a list request at 100k entries: docs/performance.md). */
export function facetsQuery(f: EntryFilters): EntriesQuery {
  return { ...filterPart(f), limit: 1, facets: true };
}

export function activeFilterCount(f: EntryFilters): number {
  return (
    (f.q ? 1 : 0) + f.status.length + f.model_type.length + f.tag.length + (f.date_from ? 1 : 0) + (f.date_to ? 1 : 0)
  );
}

/** Filters live in the URL query string: bookmarkable, shareable, back/forward friendly. */
export function useEntryFilters() {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => parseFilters(params), [params]);
  const update = useCallback(
    (patch: Partial<EntryFilters>, opts: { replace?: boolean } = {}) => {
      setParams(
        (prev) => {
          const current = parseFilters(prev);
          const resetsPage = !("page" in patch) && Object.keys(patch).some((k) => k !== "view");
          const next = { ...current, ...patch, ...(resetsPage ? { page: 1 } : {}) };
          return filtersToParams(next);
        },
        { replace: opts.replace },
      );
    },
    [setParams],
  );
  const reset = useCallback(() => {
    setParams((prev) => filtersToParams({ ...DEFAULT_FILTERS, view: parseFilters(prev).view }));
  }, [setParams]);
  return { filters, update, reset };
}
