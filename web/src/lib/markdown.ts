/** Only these URL schemes survive in rendered markdown; everything else (javascript:, data:, vbscript:…) is dropped. */
const SAFE_SCHEMES = ["http:", "https:", "mailto:"];

export function safeUrl(url: string | null | undefined): string {
  if (!url) return "";
  // Browsers ignore control characters and whitespace inside a scheme ("java\tscript:"); so do we, before checking.
  // eslint-disable-next-line no-control-regex
  const compact = url.replace(/[\u0000-\u0020\u007f-\u009f]/g, "");
  if (compact.startsWith("#") || (compact.startsWith("/") && !compact.startsWith("//"))) return url.trim();
  const colon = compact.indexOf(":");
  const firstSep = compact.search(/[/?#]/);
  if (colon === -1 || (firstSep !== -1 && firstSep < colon)) {
    return /^[\w.-]/.test(compact) ? url.trim() : ""; // a relative path such as "notes/x.md"
  }
  const scheme = compact.slice(0, colon + 1).toLowerCase();
  return SAFE_SCHEMES.includes(scheme) ? url.trim() : "";
}
