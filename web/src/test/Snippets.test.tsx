import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import { SnippetList } from "@/components/HighlightedText";

describe("search snippets", () => {
  it("wraps matches in <mark> and renders every segment as plain text", () => {
    const { container } = render(
      <SnippetList
        snippets={[
          {
            field: "notes",
            segments: [
              { text: "great at ", match: false },
              { text: "reasoning", match: true },
              { text: " <img src=x onerror=alert(1)> and ", match: false },
              { text: "<b>code</b>", match: true },
            ],
          },
          { field: "name", segments: [{ text: "Qwen", match: true }] },
        ]}
      />,
    );
    const marks = [...container.querySelectorAll("mark")].map((m) => m.textContent);
    expect(marks).toEqual(["reasoning", "<b>code</b>", "Qwen"]);
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("b")).toBeNull();
    expect(screen.getByText("Notes:")).toBeInTheDocument();
    expect(container.textContent).toContain("great at reasoning <img src=x onerror=alert(1)> and <b>code</b>");
  });
});
