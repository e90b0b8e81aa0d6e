// One title per page ("Compare · ModelMate"), so tabs, history and bookmarks tell pages apart.
// Patterns follow the routes of App.tsx; `*` is one path segment.
const TITLES: [pattern: string, title: string][] = [
  ["/", "Dashboard"],
  ["/models", "My models"],
  ["/entries/*", "Entry"],
  ["/timeline", "Timeline"],
  ["/compare", "Compare"],
  ["/transfer", "Import / Export"],
  ["/search", "Search"],
  ["/login", "Log in"],
  ["/signup", "Create account"],
  ["/settings", "Settings"],
  ["/capture", "Capture"],
  ["/hub/train", "Train"],
  ["/hub/train/expert", "Train (expert)"],
  ["/hub/runs", "Runs"],
  ["/hub/runs/*", "Run"],
  ["/hub/datasets", "Datasets"],
  ["/hub/datasets/*", "Dataset"],
  ["/hub/base-models", "Base models"],
  ["/hub/models/*", "Model"],
  ["/hub/leaderboards", "Leaderboards"],
  ["/hub/museum", "Failure museum"],
  ["/hub/changes", "Capability changes"],
  ["/hub/research", "Research data"],
  ["/hub/lineage", "Lineage"],
  ["/m/*/*", "Model"],
];

export const APP_NAME = "ModelMate";

function matches(pattern: string, path: string): boolean {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  return want.length === got.length && want.every((seg, i) => seg === "*" || seg === got[i]);
}

/** The tab title for a pathname: "Compare · ModelMate"; unknown paths read "Page not found · ModelMate". */
export function pageTitle(pathname: string): string {
  const hit = TITLES.find(([pattern]) => matches(pattern, pathname));
  return `${hit ? hit[1] : "Page not found"} · ${APP_NAME}`;
}
