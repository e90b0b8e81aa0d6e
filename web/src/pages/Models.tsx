import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ChevronLeft, ChevronRight, LayoutGrid, Library, Rows3, Tag, Trash2 } from "lucide-react";
import { PageHeader, EmptyState } from "@/components/AppShell";
import { FilterBar } from "@/components/FilterBar";
import { ModelCard } from "@/components/ModelCard";
import { NewEntryDialog } from "@/components/NewEntryDialog";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { StatusBadge, Stars } from "@/components/StatusBadge";
import { TagInput } from "@/components/TagInput";
import { Button } from "@/components/ui/button";
import { Badge } from "@/components/ui/badge";
import { Checkbox } from "@/components/ui/checkbox";
import { Skeleton } from "@/components/ui/skeleton";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { Tabs, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { Dialog, DialogContent, DialogFooter, DialogHeader, DialogTitle, DialogDescription } from "@/components/ui/dialog";
import { toast } from "@/components/ui/toast";
import { api } from "@/lib/api";
import { StatusSelect } from "@/components/EnumSelect";
import { activeFilterCount, facetsQuery, filtersToQuery, PAGE_SIZE, useEntryFilters } from "@/lib/filters";
import { formatDate, formatParams } from "@/lib/format";
import type { BulkRequest } from "@/lib/types";

function BulkBar({ ids, onDone }: { ids: number[]; onDone: () => void }) {
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const [tagDialog, setTagDialog] = useState<null | "add_tags" | "remove_tags">(null);
  const [tags, setTags] = useState<string[]>([]);
  const bulk = useMutation({
    mutationFn: (body: BulkRequest) => api.post("/entries/bulk", { body }),
    onSuccess: (res) => {
      qc.invalidateQueries();
      const what = { set_status: "updated", add_tags: "tagged", remove_tags: "untagged", delete: "deleted" }[res.action];
      toast.success(`${res.affected} ${res.affected === 1 ? "entry" : "entries"} ${what}`);
      setConfirm(false);
      setTagDialog(null);
      setTags([]);
      onDone();
    },
  });
  return (
    <div
      role="region"
      aria-label="Bulk actions"
      className="sticky top-16 z-20 flex flex-wrap items-center gap-2 rounded-lg border border-primary/30 bg-primary/5 px-3 py-2 text-sm shadow-sm backdrop-blur"
    >
      <span className="font-medium">{ids.length} selected</span>
      <StatusSelect
        aria-label="Set status of selected"
        empty="Set status…"
        value=""
        onValueChange={(status) => status && bulk.mutate({ ids, action: "set_status", status })}
        className="h-8"
      />
      <Button size="sm" variant="outline" onClick={() => setTagDialog("add_tags")}>
        <Tag aria-hidden /> Add tags
      </Button>
      <Button size="sm" variant="outline" onClick={() => setTagDialog("remove_tags")}>
        Remove tags
      </Button>
      <Button size="sm" variant="destructive" onClick={() => setConfirm(true)}>
        <Trash2 aria-hidden /> Delete
      </Button>
      <Button size="sm" variant="ghost" onClick={onDone} className="ml-auto">
        Clear selection
      </Button>
      <ConfirmDialog
        open={confirm}
        onOpenChange={setConfirm}
        title={`Delete ${ids.length} ${ids.length === 1 ? "entry" : "entries"}?`}
        description="Their notes and journal go with them. The catalog models stay."
        onConfirm={() => bulk.mutate({ ids, action: "delete" })}
        pending={bulk.isPending}
      />
      <Dialog open={tagDialog !== null} onOpenChange={(o) => !o && setTagDialog(null)}>
        <DialogContent>
          <DialogHeader>
            <DialogTitle>{tagDialog === "add_tags" ? "Add tags" : "Remove tags"}</DialogTitle>
            <DialogDescription>
              {tagDialog === "add_tags" ? "Added to" : "Removed from"} {ids.length} selected {ids.length === 1 ? "entry" : "entries"}.
            </DialogDescription>
          </DialogHeader>
          <TagInput value={tags} onChange={setTags} label="Tags to change" />
          <DialogFooter>
            <Button variant="outline" onClick={() => setTagDialog(null)}>
              Cancel
            </Button>
            <Button disabled={!tags.length || bulk.isPending} onClick={() => tagDialog && bulk.mutate({ ids, action: tagDialog, tags })}>
              Apply
            </Button>
          </DialogFooter>
        </DialogContent>
      </Dialog>
    </div>
  );
}

export default function Models() {
  const { filters, update, reset } = useEntryFilters();
  const query = useMemo(() => filtersToQuery(filters), [filters]);
  const { data, isLoading, isFetching } = useQuery({
    queryKey: ["entries", query],
    queryFn: ({ signal }) => api.get("/entries", { query, signal }),
    placeholderData: keepPreviousData,
  });
  // Facet counts depend on the filters only: a page turn or a new sort reuses them.
  const facetQuery = useMemo(() => facetsQuery(filters), [filters]);
  const facets = useQuery({
    queryKey: ["entries", "facets", facetQuery],
    queryFn: ({ signal }) => api.get("/entries", { query: facetQuery, signal }),
    placeholderData: keepPreviousData,
    select: (page) => page.facets,
  });
  const [selected, setSelected] = useState<Set<number>>(new Set());
  useEffect(() => setSelected(new Set()), [query]);

  const items = data?.items ?? [];
  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const allSelected = items.length > 0 && items.every((e) => selected.has(e.id));
  const someSelected = items.some((e) => selected.has(e.id));
  const toggle = (id: number, on: boolean) =>
    setSelected((prev) => {
      const next = new Set(prev);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  return (
    <div>
      <PageHeader title="My models" description="Every model you have met, with your status, tags and notes." actions={<NewEntryDialog />} />
      <div className="space-y-4">
        <FilterBar facets={facets.data} />
        <div className="flex flex-wrap items-center justify-between gap-2">
          <p className="text-sm text-muted-foreground" aria-live="polite" data-testid="result-count">
            {isLoading ? "Loading…" : `${total} ${total === 1 ? "entry" : "entries"}`}
            {isFetching && !isLoading ? " · updating…" : ""}
          </p>
          <Tabs value={filters.view} onValueChange={(v) => update({ view: v as "table" | "cards" })}>
            <TabsList aria-label="View">
              <TabsTrigger value="table">
                <Rows3 aria-hidden /> Table
              </TabsTrigger>
              <TabsTrigger value="cards">
                <LayoutGrid aria-hidden /> Cards
              </TabsTrigger>
            </TabsList>
          </Tabs>
        </div>
        {selected.size > 0 && <BulkBar ids={[...selected]} onDone={() => setSelected(new Set())} />}

        {isLoading ? (
          <div className="space-y-2">
            {Array.from({ length: 6 }, (_, i) => (
              <Skeleton key={i} className="h-12 w-full" />
            ))}
          </div>
        ) : items.length === 0 ? (
          activeFilterCount(filters) > 0 ? (
            <EmptyState icon={Library} title="Nothing matches these filters">
              <p>Try fewer filters or another word.</p>
              <Button variant="outline" size="sm" className="mt-3" onClick={reset}>
                Clear filters
              </Button>
            </EmptyState>
          ) : (
            <EmptyState icon={Library} title="Your log is empty">
              <p>Log the first model you tried, studied or want to explore.</p>
              <div className="mt-3 flex justify-center gap-2">
                <NewEntryDialog />
                <Button variant="outline" asChild>
                  <Link to="/transfer">Import a file</Link>
                </Button>
              </div>
            </EmptyState>
          )
        ) : filters.view === "cards" ? (
          <div className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3" data-testid="card-view">
            {items.map((e) => (
              <ModelCard key={e.id} entry={e} selected={selected.has(e.id)} onSelectedChange={(on) => toggle(e.id, on)} />
            ))}
          </div>
        ) : (
          <div className="rounded-lg border bg-card shadow-xs" data-testid="table-view">
            <Table>
              <TableHeader>
                <TableRow>
                  <TableHead className="w-10">
                    <Checkbox
                      aria-label="Select all on this page"
                      checked={allSelected ? true : someSelected ? "indeterminate" : false}
                      onCheckedChange={(v) => setSelected(v === true ? new Set(items.map((e) => e.id)) : new Set())}
                    />
                  </TableHead>
                  <TableHead>Name</TableHead>
                  <TableHead>Status</TableHead>
                  <TableHead className="hidden md:table-cell">Type</TableHead>
                  <TableHead className="hidden md:table-cell text-right">Params</TableHead>
                  <TableHead className="hidden lg:table-cell">Tags</TableHead>
                  <TableHead className="hidden sm:table-cell">Rating</TableHead>
                  <TableHead className="hidden sm:table-cell">Interacted</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {items.map((e) => (
                  <TableRow key={e.id} data-state={selected.has(e.id) ? "selected" : undefined} data-testid="entry-row">
                    <TableCell>
                      <Checkbox aria-label={`Select ${e.name}`} checked={selected.has(e.id)} onCheckedChange={(v) => toggle(e.id, v === true)} />
                    </TableCell>
                    <TableCell className="max-w-64">
                      <Link to={`/entries/${e.id}`} className="block truncate font-medium hover:underline">
                        {e.name}
                      </Link>
                      <span className="block truncate text-xs text-muted-foreground">{e.developer ?? "—"}</span>
                    </TableCell>
                    <TableCell>
                      <StatusBadge status={e.status} />
                    </TableCell>
                    <TableCell className="hidden md:table-cell">{e.model_type}</TableCell>
                    <TableCell className="hidden md:table-cell text-right tabular-nums">{formatParams(e.parameters)}</TableCell>
                    <TableCell className="hidden lg:table-cell">
                      <div className="flex max-w-64 flex-wrap gap-1">
                        {e.tags.slice(0, 4).map((t) => (
                          <Badge key={t} variant="muted">
                            {t}
                          </Badge>
                        ))}
                        {e.tags.length > 4 && <Badge variant="outline">+{e.tags.length - 4}</Badge>}
                      </div>
                    </TableCell>
                    <TableCell className="hidden sm:table-cell">
                      <Stars rating={e.rating} />
                    </TableCell>
                    <TableCell className="hidden sm:table-cell whitespace-nowrap text-muted-foreground">{formatDate(e.date_interacted)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </div>
        )}

        {total > PAGE_SIZE && (
          <nav aria-label="Pagination" className="flex items-center justify-between gap-2">
            <p className="text-sm text-muted-foreground">
              Page {filters.page} of {pages}
            </p>
            <div className="flex gap-2">
              <Button variant="outline" size="sm" disabled={filters.page <= 1} onClick={() => update({ page: filters.page - 1 })}>
                <ChevronLeft aria-hidden /> Previous
              </Button>
              <Button variant="outline" size="sm" disabled={filters.page >= pages} onClick={() => update({ page: filters.page + 1 })}>
                Next <ChevronRight aria-hidden />
              </Button>
            </div>
          </nav>
        )}
      </div>
    </div>
  );
}
