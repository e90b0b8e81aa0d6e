import { useEffect, useId, useRef, useState } from "react";
import { X } from "lucide-react";
import { api } from "@/lib/api";
import type { TagOut } from "@/lib/types";
import { cn } from "@/lib/utils";

export interface TagInputProps {
  value: string[];
  onChange: (tags: string[]) => void;
  label?: string;
  placeholder?: string;
  /** Suggestions for a prefix; defaults to GET /api/v1/tags?q=. */
  suggest?: (prefix: string) => Promise<TagOut[]>;
  id?: string;
  className?: string;
}

const defaultSuggest = (q: string) => api.get("/tags", { query: { q, limit: 8 } });

/** Tags as removable chips; type and press Enter or comma to add; autocomplete from your existing tags. */
export function TagInput({ value, onChange, label = "Tags", placeholder = "Add a tag…", suggest = defaultSuggest, id, className }: TagInputProps) {
  const autoId = useId();
  const inputId = id ?? `tags-${autoId}`;
  const listId = `${inputId}-list`;
  const [text, setText] = useState("");
  const [options, setOptions] = useState<TagOut[]>([]);
  const [active, setActive] = useState(-1);
  const [open, setOpen] = useState(false);
  const seq = useRef(0);

  useEffect(() => {
    const q = text.trim();
    if (!open) return;
    const mine = ++seq.current;
    const timer = setTimeout(() => {
      suggest(q)
        .then((tags) => {
          if (mine !== seq.current) return;
          const taken = new Set(value.map((v) => v.toLowerCase()));
          setOptions(tags.filter((t) => !taken.has(t.name.toLowerCase())).slice(0, 8));
          setActive(-1);
        })
        .catch(() => setOptions([]));
    }, 120);
    return () => clearTimeout(timer);
  }, [text, open, suggest, value]);

  const add = (raw: string) => {
    const tag = raw.replace(/\s+/g, " ").trim();
    if (!tag) return;
    if (!value.some((v) => v.toLowerCase() === tag.toLowerCase())) onChange([...value, tag]);
    setText("");
    setActive(-1);
    setOpen(false); // reopens as soon as the user types again
  };
  const remove = (tag: string) => onChange(value.filter((v) => v !== tag));

  const onKeyDown = (e: React.KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "ArrowDown" && options.length) {
      e.preventDefault();
      setOpen(true);
      setActive((a) => (a + 1) % options.length);
    } else if (e.key === "ArrowUp" && options.length) {
      e.preventDefault();
      setActive((a) => (a <= 0 ? options.length - 1 : a - 1));
    } else if (e.key === "Enter" || e.key === ",") {
      if (e.key === "Enter" && active < 0 && !text.trim()) return; // let forms submit
      e.preventDefault();
      add(active >= 0 && options[active] ? options[active].name : text);
    } else if (e.key === "Backspace" && !text && value.length) {
      remove(value[value.length - 1]);
    } else if (e.key === "Escape") {
      setOpen(false);
    }
  };

  const showList = open && options.length > 0;
  return (
    <div className={cn("relative", className)}>
      <label htmlFor={inputId} className="sr-only">
        {label}
      </label>
      <div
        className="flex min-h-9 flex-wrap items-center gap-1.5 rounded-md border border-input bg-card px-2 py-1 shadow-xs focus-within:ring-2 focus-within:ring-ring"
        data-testid="tag-input"
      >
        {value.map((tag) => (
          <span key={tag} className="inline-flex items-center gap-1 rounded-full bg-muted px-2 py-0.5 text-xs font-medium">
            {tag}
            <button
              type="button"
              onClick={() => remove(tag)}
              className="rounded-full p-0.5 hover:bg-accent focus-visible:ring-2 focus-visible:ring-ring"
              aria-label={`Remove tag ${tag}`}
            >
              <X className="size-3" aria-hidden />
            </button>
          </span>
        ))}
        <input
          id={inputId}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setOpen(true);
          }}
          onFocus={() => setOpen(true)}
          onBlur={() => setTimeout(() => setOpen(false), 150)}
          onKeyDown={onKeyDown}
          placeholder={value.length ? "" : placeholder}
          role="combobox"
          aria-expanded={showList}
          aria-controls={listId}
          aria-autocomplete="list"
          aria-activedescendant={active >= 0 ? `${listId}-${active}` : undefined}
          className="h-7 min-w-24 flex-1 bg-transparent text-sm outline-none placeholder:text-muted-foreground"
        />
      </div>
      {showList && (
        <ul id={listId} role="listbox" className="absolute z-40 mt-1 w-full overflow-hidden rounded-md border bg-popover p-1 shadow-lg">
          {options.map((o, i) => (
            <li
              key={o.name}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              onMouseDown={(e) => {
                e.preventDefault();
                add(o.name);
              }}
              className={cn("flex cursor-pointer items-center justify-between rounded-sm px-2 py-1.5 text-sm", i === active && "bg-accent")}
            >
              <span>{o.name}</span>
              <span className="text-xs text-muted-foreground">{o.count}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
