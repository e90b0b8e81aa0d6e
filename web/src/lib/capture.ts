// The browser-side half of "Save to ModelMate": the bookmarklet and the parsing of the page it was clicked on.
// The server re-validates everything (autofill/urls.py); this only pre-fills a form.

/**
 * The bookmarklet's `href`: `javascript:` code that opens our /capture page in a new window with the current page's
 * address and title. It carries no token and never reads cookies or storage: the capture page saves with the
 * user's own session. React 19 refuses `javascript:` hrefs in JSX, so set it with `setAttribute`.
 */
export function bookmarkletHref(origin: string): string {
  const base = JSON.stringify(`${origin.replace(/\/+$/, "")}/capture?url=`);
  return (
    "javascript:(function(){window.open(" +
    `${base}+encodeURIComponent(location.href)+"&title="+encodeURIComponent(document.title),"_blank","noopener")` +
    "})();"
  );
}

export interface RepoRef {
  source: "huggingface" | "github";
  id: string;
}

const HF_HOSTS = new Set(["huggingface.co", "www.huggingface.co", "hf.co", "www.hf.co"]);
const GH_HOSTS = new Set(["github.com", "www.github.com"]);
const HF_RESERVED = new Set([
  "datasets", "spaces", "docs", "blog", "api", "models", "settings", "login", "join", "pricing", "papers",
  "organizations", "collections", "learn", "tasks", "new", "enterprise", "chat", "posts", "buckets",
]);
const HF_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;
const GH_OWNER = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/;
const GH_REPO = /^[A-Za-z0-9._-]{1,100}$/;

/** A Hugging Face model or GitHub repository named by a link, or null (other or look-alike hosts, ports, user info). */
export function parseRepoUrl(value: string): RepoRef | null {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (url.username || url.password || url.port) return null;
  const host = url.hostname.toLowerCase();
  let parts: string[];
  try {
    parts = decodeURIComponent(url.pathname).split("/").filter(Boolean);
  } catch {
    return null;
  }
  if (HF_HOSTS.has(host)) {
    if (parts.length < 2 || HF_RESERVED.has(parts[0].toLowerCase())) return null;
    const [org, name] = parts;
    if (![org, name].every((p) => HF_PART.test(p) && !p.includes("--") && !p.includes(".."))) return null;
    return { source: "huggingface", id: `${org}/${name}` };
  }
  if (GH_HOSTS.has(host)) {
    if (parts.length < 2) return null;
    const owner = parts[0];
    const repo = parts[1].endsWith(".git") ? parts[1].slice(0, -4) : parts[1];
    if (!GH_OWNER.test(owner) || owner.endsWith("-") || !GH_REPO.test(repo) || repo === "." || repo === "..") return null;
    return { source: "github", id: `${owner}/${repo}` };
  }
  return null;
}

export interface CaptureDraft {
  name: string;
  hf_repo_id: string;
  github_repo: string;
  source_links: string[];
}

/** What the capture form starts with: the repository's name (or the page title), its id and the link itself. */
export function captureDraft(url: string, title: string): CaptureDraft {
  const ref = parseRepoUrl(url);
  const cleanTitle = title.trim().slice(0, 200);
  const linkOk = /^https?:\/\//i.test(url.trim());
  return {
    name: ref ? ref.id.split("/")[1] : cleanTitle,
    hf_repo_id: ref?.source === "huggingface" ? ref.id : "",
    github_repo: ref?.source === "github" ? ref.id : "",
    source_links: linkOk ? [url.trim()] : [],
  };
}
