import * as React from "react";
import * as ToastPrimitive from "@radix-ui/react-toast";
import { X } from "lucide-react";
import { cn } from "@/lib/utils";

export type ToastTone = "default" | "success" | "error";
export interface ToastItem {
  id: number;
  title: string;
  description?: string;
  tone: ToastTone;
}

type Listener = (toasts: ToastItem[]) => void;
let items: ToastItem[] = [];
let nextId = 1;
const listeners = new Set<Listener>();
const emit = () => listeners.forEach((l) => l(items));

/** Show a toast from anywhere (also outside React, e.g. the query client's error handler). */
export function toast(title: string, opts: { description?: string; tone?: ToastTone } = {}): number {
  const id = nextId++;
  items = [...items.slice(-4), { id, title, description: opts.description, tone: opts.tone ?? "default" }];
  emit();
  return id;
}
toast.success = (title: string, description?: string) => toast(title, { description, tone: "success" });
toast.error = (title: string, description?: string) => toast(title, { description, tone: "error" });

function dismiss(id: number) {
  items = items.filter((t) => t.id !== id);
  emit();
}

export function Toaster() {
  const [list, setList] = React.useState(items);
  React.useEffect(() => {
    listeners.add(setList);
    return () => {
      listeners.delete(setList);
    };
  }, []);
  return (
    <ToastPrimitive.Provider swipeDirection="right" duration={5000}>
      {list.map((t) => (
        <ToastPrimitive.Root
          key={t.id}
          type={t.tone === "error" ? "foreground" : "background"}
          onOpenChange={(open) => !open && dismiss(t.id)}
          data-tone={t.tone}
          className={cn(
            "group relative flex w-full items-start gap-3 rounded-lg border bg-card p-4 pr-8 shadow-lg",
            t.tone === "error" && "border-destructive/40",
            t.tone === "success" && "border-emerald-500/40",
          )}
        >
          <span
            aria-hidden
            className={cn(
              "mt-1.5 size-2 shrink-0 rounded-full bg-primary",
              t.tone === "error" && "bg-destructive",
              t.tone === "success" && "bg-emerald-500",
            )}
          />
          <div className="grid gap-0.5">
            <ToastPrimitive.Title className="text-sm font-semibold">{t.title}</ToastPrimitive.Title>
            {t.description && (
              <ToastPrimitive.Description className="text-sm text-muted-foreground">{t.description}</ToastPrimitive.Description>
            )}
          </div>
          <ToastPrimitive.Close aria-label="Dismiss" className="absolute right-2 top-2 rounded p-1 opacity-60 hover:opacity-100">
            <X className="size-4" aria-hidden />
          </ToastPrimitive.Close>
        </ToastPrimitive.Root>
      ))}
      <ToastPrimitive.Viewport className="fixed bottom-0 right-0 z-[100] flex max-h-screen w-full flex-col gap-2 p-4 sm:max-w-sm" />
    </ToastPrimitive.Provider>
  );
}
