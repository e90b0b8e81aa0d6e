// The generic training-config form's logic: field descriptions (GET /training/options) → editable text drafts →
// checked values. Pure functions, so the form and its tests share them.
import type { ConfigField } from "./hub";

/** What the inputs hold: text for numbers and lists, true/false for switches, the choice for selects. */
export type Draft = Record<string, string | boolean>;

function isNumeric(f: ConfigField): boolean {
  return f.type === "int" || f.type === "float";
}

/** Defaults, then a preset's values on top (unknown keys ignored). */
export function baseValues(fields: ConfigField[], presetValues?: Record<string, unknown> | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) out[f.name] = presetValues && f.name in presetValues ? presetValues[f.name] : f.default;
  return out;
}

function toText(f: ConfigField, v: unknown): string | boolean {
  if (f.type === "bool") return v === true;
  if (v === null || v === undefined) return "";
  if (f.type === "list") return Array.isArray(v) ? v.map(String).join(", ") : String(v);
  return String(v);
}

export function draftFromValues(fields: ConfigField[], values: Record<string, unknown>): Draft {
  const d: Draft = {};
  for (const f of fields) d[f.name] = toText(f, f.name in values ? values[f.name] : f.default);
  return d;
}

/** "1 – 256", "more than 0, at most 0.01", or "" when the field has no bounds. */
export function boundsText(f: ConfigField): string {
  if (!isNumeric(f)) return "";
  const lo = f.minimum ?? null;
  const hi = f.maximum ?? null;
  if (lo !== null && hi !== null && !f.exclusive_minimum && !f.exclusive_maximum) return `${lo} – ${hi}`;
  const parts: string[] = [];
  if (lo !== null) parts.push(f.exclusive_minimum ? `more than ${lo}` : `at least ${lo}`);
  if (hi !== null) parts.push(f.exclusive_maximum ? `less than ${hi}` : `at most ${hi}`);
  return parts.join(", ");
}

/** Check one input: the value to send, or a plain message saying what is wrong. */
export function checkField(f: ConfigField, raw: string | boolean | undefined): { value: unknown; error?: string } {
  if (f.type === "bool") return { value: raw === true };
  const text = typeof raw === "string" ? raw.trim() : "";
  if (f.type === "choice") {
    if (!text) return f.nullable ? { value: null } : { value: null, error: "Pick one of the choices." };
    const choices = f.choices?.map(String);
    if (choices && !choices.includes(text)) return { value: text, error: `Pick one of: ${choices.join(", ")}.` };
    return { value: text };
  }
  if (f.type === "list") {
    const items = text
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (!items.length) return { value: f.nullable ? null : [] };
    return { value: items };
  }
  if (isNumeric(f)) {
    if (!text) return f.nullable ? { value: null } : { value: null, error: "Required." };
    const n = Number(text);
    if (!Number.isFinite(n)) return { value: null, error: "Must be a number." };
    if (f.type === "int" && !Number.isInteger(n)) return { value: null, error: "Must be a whole number." };
    const lo = f.minimum ?? null;
    const hi = f.maximum ?? null;
    if (lo !== null && (f.exclusive_minimum ? n <= lo : n < lo))
      return { value: n, error: f.exclusive_minimum ? `Must be more than ${lo}.` : `Must be at least ${lo}.` };
    if (hi !== null && (f.exclusive_maximum ? n >= hi : n > hi))
      return { value: n, error: f.exclusive_maximum ? `Must be less than ${hi}.` : `Must be at most ${hi}.` };
    return { value: n };
  }
  return { value: text };
}

/** Every field checked: the config to send and the client-side errors (empty when all is well). */
export function parseDraft(fields: ConfigField[], draft: Draft): { values: Record<string, unknown>; errors: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const r = checkField(f, draft[f.name]);
    values[f.name] = r.value;
    if (r.error) errors[f.name] = r.error;
  }
  return { values, errors };
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  return (a ?? null) === (b ?? null);
}

/** Only the fields whose value differs from `base` (what an expert run sends as overrides). */
export function changedValues(fields: ConfigField[], values: Record<string, unknown>, base: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (!same(values[f.name], base[f.name])) out[f.name] = values[f.name];
  return out;
}
