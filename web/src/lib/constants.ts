import { ENTRY_STATUS_LABEL, EVENT_KIND_LABEL } from "./enums";

export const SORTS = [
  { value: "updated", label: "Recently updated" },
  { value: "created", label: "Recently added" },
  { value: "date", label: "Date interacted" },
  { value: "name", label: "Name" },
  { value: "parameters", label: "Parameters" },
  { value: "rating", label: "Rating" },
] as const;

/** Labels looked up by a string that may be outside the enum (lib/enums holds the one typed list of each). */
export const STATUS_LABEL: Readonly<Record<string, string>> = ENTRY_STATUS_LABEL;
export const EVENT_LABEL: Readonly<Record<string, string>> = EVENT_KIND_LABEL;
