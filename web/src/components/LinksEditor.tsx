import { Plus, X } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";

/** A list of http(s) links: add, edit, remove. Validation is the server's; obviously bad ones are flagged here. */
export function LinksEditor({ value, onChange }: { value: string[]; onChange: (links: string[]) => void }) {
  const set = (i: number, v: string) => onChange(value.map((old, j) => (j === i ? v : old)));
  return (
    <div className="grid gap-2" data-testid="links-editor">
      {value.map((link, i) => {
        const bad = link.trim() !== "" && !/^https?:\/\/\S+$/i.test(link.trim());
        return (
          <div key={i} className="flex items-center gap-2">
            <Input
              type="url"
              aria-label={`Link ${i + 1}`}
              value={link}
              placeholder="https://…"
              aria-invalid={bad}
              onChange={(e) => set(i, e.target.value)}
            />
            <Button variant="ghost" size="icon" aria-label={`Remove link ${i + 1}`} onClick={() => onChange(value.filter((_, j) => j !== i))}>
              <X aria-hidden />
            </Button>
          </div>
        );
      })}
      <div>
        <Button variant="outline" size="sm" onClick={() => onChange([...value, ""])}>
          <Plus aria-hidden /> Add link
        </Button>
      </div>
    </div>
  );
}
