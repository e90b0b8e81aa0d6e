// One select per enum of the API. The options come from the label records of lib/enums (Record<Enum, label>, typed by
// the generated schema), so every list of statuses, model types, ... in the UI is the same list, and a value the
// server adds breaks the typecheck until it has a label.
import type * as React from "react";
import type { EntryStatus, EventKind, FormatChoice, ImportFormat, ModelType, RunStatus, SortField, TrainingOutcome } from "@/client";
import { NativeSelect } from "@/components/ui/select";
import { DOMAIN_NAME, type Domain } from "@/lib/bench";
import {
  DATASET_FORMAT_CHOICE_LABEL,
  ENTRY_STATUS_LABEL,
  enumValues,
  EVENT_KIND_LABEL,
  IMPORT_FORMAT_LABEL,
  MODEL_TYPE_LABEL,
  OUTCOME_LABEL,
  parseEnum,
  RUN_STATUS_LABEL,
  SORT_LABEL,
} from "@/lib/enums";

type NativeProps = Omit<React.SelectHTMLAttributes<HTMLSelectElement>, "value" | "defaultValue" | "onChange" | "children">;

export interface EnumSelectProps<T extends string> extends NativeProps {
  /** The options: value → label, in display order. */
  labels: Record<T, string>;
  /** The chosen value; "" is the empty option (only offered when `empty` is set). */
  value: T | "";
  /** Called with the chosen value, or "" when the empty option was chosen. */
  onValueChange: (value: T | "") => void;
  /** The label of a first option with the value "" ("All statuses", "Set status…"). */
  empty?: string;
  /** Shown after a label (e.g. a facet count). */
  extra?: (value: T) => React.ReactNode;
}

export function EnumSelect<T extends string>({ labels, value, onValueChange, empty, extra, ...rest }: EnumSelectProps<T>) {
  return (
    <NativeSelect {...rest} value={value} onChange={(e) => onValueChange(parseEnum(labels, e.target.value) ?? "")}>
      {empty !== undefined && <option value="">{empty}</option>}
      {enumValues(labels).map((v) => (
        <option key={v} value={v}>
          {labels[v]}
          {extra?.(v)}
        </option>
      ))}
    </NativeSelect>
  );
}

type Props<T extends string> = Omit<EnumSelectProps<T>, "labels">;

/** A catalog entry's status (wishlist … archived). */
export function StatusSelect(props: Props<EntryStatus>) {
  return <EnumSelect labels={ENTRY_STATUS_LABEL} {...props} />;
}

/** A sort order of the entry list. */
export function SortSelect(props: Props<SortField>) {
  return <EnumSelect labels={SORT_LABEL} {...props} />;
}

/** A model type (LLM, Vision, …). */
export function ModelTypeSelect(props: Props<ModelType>) {
  return <EnumSelect labels={MODEL_TYPE_LABEL} {...props} />;
}

/** A timeline event kind. */
export function EventKindSelect(props: Props<EventKind>) {
  return <EnumSelect labels={EVENT_KIND_LABEL} {...props} />;
}

/** A fine-tuning run's status. */
export function RunStatusSelect(props: Props<RunStatus>) {
  return <EnumSelect labels={RUN_STATUS_LABEL} {...props} />;
}

/** A training outcome (success, partial, failure). */
export function OutcomeSelect(props: Props<TrainingOutcome>) {
  return <EnumSelect labels={OUTCOME_LABEL} {...props} />;
}

/** A benchmark domain (math, code, …). */
export function DomainSelect(props: Props<Domain>) {
  return <EnumSelect labels={DOMAIN_NAME} {...props} />;
}

/** The format of a dataset upload ("auto" detects it). */
export function DatasetFormatSelect(props: Props<FormatChoice>) {
  return <EnumSelect labels={DATASET_FORMAT_CHOICE_LABEL} {...props} />;
}

/** The format of a catalog import file ("auto" detects it). */
export function ImportFormatSelect(props: Props<ImportFormat>) {
  return <EnumSelect labels={IMPORT_FORMAT_LABEL} {...props} />;
}
