import { describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { BookmarkletLink } from "@/components/Bookmarklet";
import { MetadataDiffDialog, pickFields } from "@/components/MetadataDiffDialog";
import { bookmarkletHref, captureDraft, parseRepoUrl } from "@/lib/capture";
import type { FieldDiff } from "@/client";

describe("bookmarklet", () => {
  const href = bookmarkletHref("https://mm.example.org");
  const code = href.slice("javascript:".length);

  it("opens /capture with the encoded url and title, and carries no secret", () => {
    expect(href.startsWith("javascript:")).toBe(true);
    expect(code).toContain('"https://mm.example.org/capture?url="+encodeURIComponent(location.href)');
    expect(code).toContain('"&title="+encodeURIComponent(document.title)');
    expect(code).toContain("window.open(");
    for (const bad of ["cookie", "localStorage", "sessionStorage", "token", "mm_", "Bearer", "fetch", "XMLHttpRequest"]) {
      expect(code).not.toContain(bad);
    }
  });

  it("runs: opens one window at the capture URL with both values encoded", () => {
    const open = vi.fn();
    const fn = new Function("window", "location", "document", code);
    fn({ open }, { href: "https://huggingface.co/org/model?a=1&b=2#x" }, { title: "Model & more / “quotes”" });
    expect(open).toHaveBeenCalledOnce();
    const url = new URL(open.mock.calls[0][0]);
    expect(url.origin + url.pathname).toBe("https://mm.example.org/capture");
    expect(url.searchParams.get("url")).toBe("https://huggingface.co/org/model?a=1&b=2#x");
    expect(url.searchParams.get("title")).toBe("Model & more / “quotes”");
    expect([...url.searchParams.keys()]).toEqual(["url", "title"]);
  });

  it("an origin with quotes cannot break out of the string", () => {
    const evil = bookmarkletHref('https://x"+alert(1)+"');
    expect(evil).toContain('"https://x\\"+alert(1)+\\"/capture?url="');
  });

  it("the rendered link gets the href from the given origin (React would block it as a prop)", () => {
    render(<BookmarkletLink origin="http://127.0.0.1:8000" />);
    const a = screen.getByTestId("bookmarklet");
    expect(a.getAttribute("href")).toBe(bookmarkletHref("http://127.0.0.1:8000"));
    expect(a).toHaveTextContent("Save to ModelMate");
  });
});

describe("capture URL parsing", () => {
  it.each([
    ["https://huggingface.co/meta-llama/Llama-3.1-8B", { source: "huggingface", id: "meta-llama/Llama-3.1-8B" }],
    ["https://hf.co/org/model/tree/main", { source: "huggingface", id: "org/model" }],
    ["https://www.huggingface.co/org/model?x=1", { source: "huggingface", id: "org/model" }],
    ["https://github.com/ggml-org/llama.cpp", { source: "github", id: "ggml-org/llama.cpp" }],
    ["https://github.com/owner/repo.git", { source: "github", id: "owner/repo" }],
    ["https://www.github.com/owner/repo/tree/main/src", { source: "github", id: "owner/repo" }],
  ])("%s", (url, want) => {
    expect(parseRepoUrl(url)).toEqual(want);
  });

  it.each([
    "https://huggingface.co.evil.com/org/model",
    "https://evil-huggingface.co/org/model",
    "https://github.com.evil.com/owner/repo",
    "https://huggingface.co@evil.com/org/model",
    "https://user@huggingface.co/org/model",
    "https://huggingface.co:8443/org/model",
    "ftp://huggingface.co/org/model",
    "javascript:alert(1)//huggingface.co/org/model",
    "https://huggingface.co/datasets/org/data",
    "https://huggingface.co/org",
    "https://github.com/owner",
    "not a url",
    "",
  ])("rejects %s", (url) => {
    expect(parseRepoUrl(url)).toBeNull();
  });

  it("pre-fills name, repo ids and the source link", () => {
    expect(captureDraft("https://huggingface.co/org/Cool-Model", "org/Cool-Model · Hugging Face")).toEqual({
      name: "Cool-Model",
      hf_repo_id: "org/Cool-Model",
      github_repo: "",
      source_links: ["https://huggingface.co/org/Cool-Model"],
    });
    expect(captureDraft("https://github.com/o/r", "t").github_repo).toBe("o/r");
    const other = captureDraft("https://example.org/paper", "A paper");
    expect(other).toEqual({ name: "A paper", hf_repo_id: "", github_repo: "", source_links: ["https://example.org/paper"] });
    expect(captureDraft("javascript:alert(1)", "x").source_links).toEqual([]);
  });
});

describe("refresh-metadata diff dialog", () => {
  const diff: FieldDiff[] = [
    { field: "license", current: "MIT", proposed: "Apache-2.0", changed: true },
    { field: "developer", current: null, proposed: "Meta", changed: true },
    { field: "name", current: "Same", proposed: "Same", changed: false },
    { field: "tags", current: ["a"], proposed: ["a", "b"], changed: true },
  ];

  it("pickFields keeps only checked, changed fields", () => {
    expect(pickFields(diff, new Set(["license", "name"]))).toEqual({ license: "Apache-2.0" });
    expect(pickFields(diff, new Set())).toEqual({});
  });

  it("applies only the fields left checked", async () => {
    const onApply = vi.fn();
    render(<MetadataDiffDialog diff={diff} source="org/model" onApply={onApply} onClose={() => {}} />);
    expect(screen.getAllByRole("checkbox")).toHaveLength(3); // unchanged fields get no checkbox
    await userEvent.click(screen.getByRole("checkbox", { name: "Apply license" }));
    await userEvent.click(screen.getByRole("button", { name: /Apply/ }));
    expect(onApply).toHaveBeenCalledWith({ developer: "Meta", tags: ["a", "b"] });
  });
});
