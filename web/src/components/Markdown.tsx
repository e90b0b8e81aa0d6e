// Safe markdown: GFM, no raw HTML (no rehype-raw: tags in the text are shown as text), sanitised HAST, and only
// http(s)/mailto/relative URLs. Loaded lazily (react-markdown + remark/rehype are the heaviest part of an entry page).
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import rehypeSanitize from "rehype-sanitize";
import { safeUrl } from "@/lib/markdown";
import { cn } from "@/lib/utils";

const components: Components = {
  a: ({ href, children, node: _node, ...rest }) => {
    const safe = safeUrl(href);
    if (!safe) return <span className="text-muted-foreground">{children}</span>;
    const external = /^https?:/i.test(safe);
    return (
      <a href={safe} {...rest} {...(external ? { target: "_blank", rel: "noopener noreferrer nofollow ugc" } : {})}>
        {children}
      </a>
    );
  },
  img: ({ src, alt }) => {
    const safe = typeof src === "string" ? safeUrl(src) : "";
    if (!safe) return <span className="text-muted-foreground">[image: {alt}]</span>;
    return <img src={safe} alt={alt ?? ""} loading="lazy" referrerPolicy="no-referrer" className="max-w-full rounded" />;
  },
};

export default function Markdown({ source, className }: { source: string; className?: string }) {
  return (
    <div className={cn("prose-mm text-sm", className)} data-testid="markdown">
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[rehypeSanitize]}
        urlTransform={(url) => safeUrl(url)}
        skipHtml={false}
        components={components}
      >
        {source}
      </ReactMarkdown>
    </div>
  );
}
