import { ENTRY_STATUS_LABEL, EVENT_KIND_LABEL } from "./enums";

/** Labels looked up by a string that may be outside the enum (lib/enums holds the one typed list of each). */
export const STATUS_LABEL: Readonly<Record<string, string>> = ENTRY_STATUS_LABEL;
export const EVENT_LABEL: Readonly<Record<string, string>> = EVENT_KIND_LABEL;
