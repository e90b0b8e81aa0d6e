export const STATUSES = ["wishlist", "tried", "studied", "using", "archived"] as const;
export const MODEL_TYPES = ["LLM", "Vision", "Audio", "Embedding", "Multimodal", "Other"] as const;
export const SORTS = [
  { value: "updated", label: "Recently updated" },
  { value: "created", label: "Recently added" },
  { value: "date", label: "Date interacted" },
  { value: "name", label: "Name" },
  { value: "parameters", label: "Parameters" },
  { value: "rating", label: "Rating" },
] as const;

export const STATUS_LABEL: Record<string, string> = {
  wishlist: "Wishlist",
  tried: "Tried",
  studied: "Studied",
  using: "Using",
  archived: "Archived",
};

export const EVENT_LABEL: Record<string, string> = {
  added: "Added",
  status_changed: "Status changed",
  note_added: "Journal note",
  note_edited: "Note edited",
  rated: "Rated",
  updated: "Updated",
  deleted: "Deleted",
};
