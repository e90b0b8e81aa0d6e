import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { formatValue } from "@/lib/format";
import type { FieldDiff } from "@/client";

/** The PATCH body for the chosen fields: only changed fields that are checked, with their proposed values. */
export function pickFields(diff: FieldDiff[], checked: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of diff) if (d.changed && checked.has(d.field)) out[d.field] = d.proposed;
  return out;
}

function show(v: unknown): string {
  if (v == null || (Array.isArray(v) && v.length === 0)) return "—";
  if (Array.isArray(v)) return v.join(", ");
  return formatValue(v);
}

/** "Refresh metadata": upstream vs yours, one checkbox per changed field; Apply sends only the checked ones. */
export function MetadataDiffDialog({
  diff,
  source,
  onApply,
  onClose,
  pending,
}: {
  diff: FieldDiff[];
  source: string;
  onApply: (fields: Record<string, unknown>) => void;
  onClose: () => void;
  pending?: boolean;
}) {
  const changed = diff.filter((d) => d.changed);
  const [checked, setChecked] = useState<Set<string>>(() => new Set(changed.map((d) => d.field)));
  const toggle = (field: string, on: boolean) =>
    setChecked((s) => {
      const n = new Set(s);
      if (on) n.add(field);
      else n.delete(field);
      return n;
    });
  return (
    <Dialog open onOpenChange={(o) => !o && onClose()}>
      <DialogContent className="max-w-2xl">
        <DialogHeader>
          <DialogTitle>Refresh metadata</DialogTitle>
          <DialogDescription>
            {changed.length ? `From ${source}: choose the changes to apply.` : `From ${source}: everything is already up to date.`}
          </DialogDescription>
        </DialogHeader>
        {changed.length > 0 && (
          <ul className="grid max-h-[55vh] gap-2 overflow-y-auto" data-testid="metadata-diff">
            {changed.map((d) => (
              <li key={d.field} className="grid grid-cols-[auto_minmax(0,1fr)] items-start gap-3 rounded-md border p-2 text-sm">
                <Checkbox id={`diff-${d.field}`} checked={checked.has(d.field)} onCheckedChange={(v) => toggle(d.field, v === true)} aria-label={`Apply ${d.field}`} className="mt-0.5" />
                <label htmlFor={`diff-${d.field}`} className="grid gap-0.5">
                  <span className="font-medium">{d.field}</span>
                  <span className="break-words text-muted-foreground line-through">{show(d.current)}</span>
                  <span className="break-words">{show(d.proposed)}</span>
                </label>
              </li>
            ))}
          </ul>
        )}
        <DialogFooter>
          <Button variant="outline" onClick={onClose}>
            Cancel
          </Button>
          <Button onClick={() => onApply(pickFields(diff, checked))} disabled={pending || checked.size === 0}>
            Apply {checked.size || ""}
          </Button>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
