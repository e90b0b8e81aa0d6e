import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import Markdown from "@/components/Markdown";
import { safeUrl } from "@/lib/markdown";

const PAYLOAD = [
  "# Notes",
  "<script>window.__pwned = 1</script>",
  '<img src="x" onerror="window.__pwned = 2">',
  "[click me](javascript:alert(1))",
  "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "[spaced](java\tscript:alert(1))",
  "![pic](javascript:alert(1))",
  "[safe](https://example.org/a)",
  "<a href=\"javascript:alert(1)\">raw anchor</a>",
  "| a | b |\n|---|---|\n| 1 | 2 |",
].join("\n\n");

describe("Markdown preview", () => {
  it("renders markdown but leaves scripts, event handlers and dangerous links inert", () => {
    const { container } = render(<Markdown source={PAYLOAD} />);
    expect(screen.getByRole("heading", { name: "Notes" })).toBeInTheDocument();
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("[onerror]")).toBeNull();
    expect(container.querySelector("img")).toBeNull();
    for (const a of container.querySelectorAll("a")) {
      expect(a.getAttribute("href") ?? "").toMatch(/^https?:/);
    }
    // raw HTML is never interpreted (react-markdown drops it without rehype-raw)
    expect(container.innerHTML).not.toMatch(/<script|onerror=|javascript:|data:text/i);
    expect(screen.getByText("click me").tagName).toBe("SPAN");
    const safe = screen.getByRole("link", { name: "safe" });
    expect(safe).toHaveAttribute("href", "https://example.org/a");
    expect(safe).toHaveAttribute("rel", expect.stringContaining("noopener"));
    expect(container.querySelector("table")).not.toBeNull(); // GFM tables work
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("safeUrl keeps http(s), mailto and relative links only", () => {
    expect(safeUrl("https://a.b/c")).toBe("https://a.b/c");
    expect(safeUrl("mailto:x@y.z")).toBe("mailto:x@y.z");
    expect(safeUrl("/entries/2")).toBe("/entries/2");
    expect(safeUrl("#top")).toBe("#top");
    expect(safeUrl("javascript:alert(1)")).toBe("");
    expect(safeUrl("JaVaScRiPt:alert(1)")).toBe("");
    expect(safeUrl(" java\nscript:alert(1)")).toBe("");
    expect(safeUrl("data:text/html,x")).toBe("");
    expect(safeUrl("vbscript:x")).toBe("");
    expect(safeUrl("//evil.example/x")).toBe("");
  });
});
