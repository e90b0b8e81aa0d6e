import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Checkbox } from "@/components/ui/checkbox";
import { Input, Label } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/select";
import type { ConfigField } from "@/lib/hub";
import { fieldLabel, humanize } from "@/lib/hub";
import { boundsText, checkField, type Draft } from "@/lib/hubConfig";
import { cn } from "@/lib/utils";

const GROUPS: { key: string; title: string; description: string }[] = [
  { key: "basic", title: "Basics", description: "The settings that matter most for a first run." },
  {
    key: "advanced",
    title: "Advanced",
    description:
      "Fine control over the optimiser, memory (quantization, gradient checkpointing, attention kernel), evaluation, checkpoints and precision. Choices the training machine cannot run are refused with the alternative to pick.",
  },
];

function defaultText(f: ConfigField): string {
  const d = f.default;
  if (d === null || d === undefined) return "automatic";
  if (Array.isArray(d)) return d.length ? d.join(", ") : "none";
  if (typeof d === "boolean") return d ? "on" : "off";
  return String(d);
}

export function ConfigFieldInput({
  field: f,
  value,
  onChange,
  serverError,
  baseValue,
  disabled,
}: {
  field: ConfigField;
  value: string | boolean | undefined;
  onChange: (value: string | boolean) => void;
  serverError?: string;
  baseValue?: string | boolean;
  disabled?: boolean;
}) {
  const id = `cfg-${f.name}`;
  const helpId = `${id}-help`;
  const errId = `${id}-error`;
  const clientError = checkField(f, value).error;
  const error = clientError ?? serverError;
  const describedBy = error ? `${helpId} ${errId}` : helpId;
  const bounds = boundsText(f);
  const changed = baseValue !== undefined && value !== baseValue;
  const help = (
    <p id={helpId} className="text-xs leading-relaxed text-muted-foreground">
      {f.help}
      <span className="text-muted-foreground/80">
        {" "}
        (default {defaultText(f)}
        {bounds ? `; ${bounds}` : ""})
      </span>
    </p>
  );
  const errorLine = error && (
    <p id={errId} role="alert" className="text-xs font-medium text-destructive" data-testid={`error-${f.name}`}>
      {error}
    </p>
  );

  if (f.type === "bool") {
    return (
      <div className="grid gap-1.5" data-testid={`field-${f.name}`} data-changed={changed || undefined}>
        <div className="flex items-center gap-2">
          <Checkbox
            id={id}
            checked={value === true}
            onCheckedChange={(v) => onChange(v === true)}
            aria-describedby={describedBy}
            aria-invalid={!!error || undefined}
            disabled={disabled}
          />
          <Label htmlFor={id} className="flex items-center gap-2">
            {fieldLabel(f.name)} <code className="text-xs font-normal text-muted-foreground">{f.name}</code>
            {changed && <span className="size-1.5 rounded-full bg-primary" title="Changed" aria-label="changed" />}
          </Label>
        </div>
        {help}
        {errorLine}
      </div>
    );
  }

  const common = {
    id,
    "aria-describedby": describedBy,
    "aria-invalid": !!error || undefined,
    disabled,
  };
  let input: React.ReactNode;
  if (f.type === "choice") {
    input = (
      <NativeSelect {...common} value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value)} className="w-full">
        {f.nullable && <option value="">Automatic</option>}
        {(f.choices ?? []).map(String).map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </NativeSelect>
    );
  } else if (f.type === "int" || f.type === "float") {
    input = (
      <Input
        {...common}
        type="number"
        inputMode={f.type === "int" ? "numeric" : "decimal"}
        step={f.type === "int" ? 1 : "any"}
        min={f.minimum ?? undefined}
        max={f.maximum ?? undefined}
        placeholder={f.nullable ? "Automatic" : undefined}
        value={typeof value === "string" ? value : ""}
        onChange={(e) => onChange(e.target.value)}
        className="tabular-nums"
      />
    );
  } else {
    input = (
      <Input
        {...common}
        placeholder={f.nullable ? "Automatic" : f.type === "list" ? "comma-separated" : undefined}
        value={typeof value === "string" ? value : ""}
        onChange={(e) => onChange(e.target.value)}
        spellCheck={false}
        autoComplete="off"
      />
    );
  }
  return (
    <div className="grid content-start gap-1.5" data-testid={`field-${f.name}`} data-changed={changed || undefined}>
      <Label htmlFor={id} className="flex items-center gap-2">
        {fieldLabel(f.name)} <code className="text-xs font-normal text-muted-foreground">{f.name}</code>
        {changed && <span className="size-1.5 rounded-full bg-primary" title="Changed" aria-label="changed" />}
      </Label>
      {input}
      {help}
      {errorLine}
    </div>
  );
}

/**
 * Every TrainingConfig field, rendered from its description alone: number inputs with the server's bounds checked
 * here too, selects for choices, switches for booleans, a text box for lists, the help text under each, and the
 * server's 422 message next to the field it names.
 */
export function ConfigForm({
  fields,
  draft,
  onChange,
  serverErrors = {},
  base,
  disabled,
  locked,
}: {
  fields: ConfigField[];
  draft: Draft;
  onChange: (name: string, value: string | boolean) => void;
  serverErrors?: Record<string, string>;
  base?: Draft;
  disabled?: boolean;
  /** Fields that cannot be changed here (a fork keeps its parent's LoRA shape). */
  locked?: readonly string[];
}) {
  const known = new Set(GROUPS.map((g) => g.key));
  const groups = [...GROUPS];
  for (const f of fields) {
    if (!known.has(f.group)) {
      known.add(f.group);
      groups.push({ key: f.group, title: humanize(f.group), description: "" });
    }
  }
  return (
    <div className="grid gap-6" data-testid="config-form">
      {groups.map((g) => {
        const list = fields.filter((f) => f.group === g.key);
        if (!list.length) return null;
        return (
          <Card key={g.key}>
            <CardHeader>
              <CardTitle className="text-base">{g.title}</CardTitle>
              {g.description && <CardDescription>{g.description}</CardDescription>}
            </CardHeader>
            <CardContent className={cn("grid gap-x-6 gap-y-5 sm:grid-cols-2")}>
              {list.map((f) => (
                <ConfigFieldInput
                  key={f.name}
                  field={f}
                  value={draft[f.name]}
                  baseValue={base?.[f.name]}
                  onChange={(v) => onChange(f.name, v)}
                  serverError={serverErrors[f.name]}
                  disabled={disabled || !!locked?.includes(f.name)}
                />
              ))}
            </CardContent>
          </Card>
        );
      })}
    </div>
  );
}
