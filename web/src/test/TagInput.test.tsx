import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { TagInput } from "@/components/TagInput";
import type { TagOut } from "@/lib/types";

function Harness({ suggest, initial = [] }: { suggest: (q: string) => Promise<TagOut[]>; initial?: string[] }) {
  const [tags, setTags] = useState<string[]>(initial);
  return (
    <>
      <TagInput value={tags} onChange={setTags} suggest={suggest} />
      <output data-testid="value">{JSON.stringify(tags)}</output>
    </>
  );
}

describe("TagInput", () => {
  it("adds tags with Enter and comma, deduplicates case-insensitively, removes with Backspace", async () => {
    const user = userEvent.setup();
    render(<Harness suggest={async () => []} />);
    const input = screen.getByRole("combobox", { name: "Tags" });
    await user.type(input, "chat{Enter}Code,CHAT{Enter}");
    expect(screen.getByTestId("value")).toHaveTextContent('["chat","Code"]');
    await user.type(input, "{Backspace}");
    expect(screen.getByTestId("value")).toHaveTextContent('["chat"]');
    await user.click(screen.getByRole("button", { name: "Remove tag chat" }));
    expect(screen.getByTestId("value")).toHaveTextContent("[]");
  });

  it("autocompletes from the suggestion source with the keyboard, hiding tags already chosen", async () => {
    const user = userEvent.setup();
    const suggest = vi.fn(async (q: string) =>
      [
        { name: "reasoning", count: 3 },
        { name: "rag", count: 2 },
        { name: "chat", count: 9 },
      ].filter((t) => t.name.startsWith(q)),
    );
    render(<Harness suggest={suggest} initial={["chat"]} />);
    const input = screen.getByRole("combobox", { name: "Tags" });
    await user.type(input, "r");
    const options = await screen.findAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["reasoning3", "rag2"]);
    expect(suggest).toHaveBeenLastCalledWith("r");
    await user.keyboard("{ArrowDown}{ArrowDown}{Enter}");
    expect(screen.getByTestId("value")).toHaveTextContent('["chat","rag"]');
    await waitFor(() => expect(input).toHaveValue(""));
  });
});
