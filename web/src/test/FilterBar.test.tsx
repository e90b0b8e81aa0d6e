import { describe, expect, it } from "vitest";
import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { FilterBar } from "@/components/FilterBar";
import { facetsQuery, filtersToParams, filtersToQuery, parseFilters } from "@/lib/filters";
import { renderWithProviders } from "./render";

const noTags = async () => [];
const location = () => screen.getByTestId("location").textContent ?? "";

describe("FilterBar URL sync", () => {
  it("reads its state from the URL (a bookmarked view)", () => {
    renderWithProviders(<FilterBar suggestTags={noTags} />, {
      route: "/models?q=llama&status=using&model_type=Vision&tag=chat&tag=code&sort=name&order=asc&date_from=2026-01-01",
    });
    expect(screen.getByLabelText("Filter by text")).toHaveValue("llama");
    expect(screen.getByLabelText("Status")).toHaveValue("using");
    expect(screen.getByLabelText("Model type")).toHaveValue("Vision");
    expect(screen.getByLabelText("Sort by")).toHaveValue("name");
    expect(screen.getByLabelText("Interacted from")).toHaveValue("2026-01-01");
    expect(screen.getByText("chat")).toBeInTheDocument();
    expect(screen.getByText("code")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /Clear filters \(6\)/ })).toBeInTheDocument();
  });

  it("writes every change to the query string and resets the page", async () => {
    const user = userEvent.setup();
    renderWithProviders(<FilterBar suggestTags={noTags} />, { route: "/models?page=3" });
    await user.selectOptions(screen.getByLabelText("Status"), "tried");
    expect(location()).toBe("/models?status=tried");
    await user.selectOptions(screen.getByLabelText("Sort by"), "rating");
    expect(location()).toBe("/models?status=tried&sort=rating");
    await user.click(screen.getByRole("button", { name: /Descending order/ }));
    expect(location()).toBe("/models?status=tried&sort=rating&order=asc");
    fireEvent.change(screen.getByLabelText("Interacted to"), { target: { value: "2026-02-01" } });
    expect(location()).toContain("date_to=2026-02-01");
    await user.type(screen.getByRole("combobox", { name: "Filter by tags" }), "rag{Enter}");
    expect(location()).toContain("tag=rag");
    await user.type(screen.getByLabelText("Filter by text"), "mistral");
    await waitFor(() => expect(location()).toContain("q=mistral"), { timeout: 2000 });
    await act(async () => {
      await user.click(screen.getByRole("button", { name: /Clear filters/ }));
    });
    expect(location()).toBe("/models");
  });

  it("round-trips filters through the URL and maps them onto the API query", () => {
    const f = parseFilters(new URLSearchParams("status=using&status=tried&tag=a&tag=b&tag_mode=all&page=2&view=cards"));
    expect(filtersToParams(f).toString()).toBe("status=using&status=tried&tag=a&tag=b&tag_mode=all&page=2&view=cards");
    const q = filtersToQuery(f);
    expect(q).toMatchObject({ status: ["using", "tried"], tag: ["a", "b"], tag_mode: "all", offset: 24, limit: 24 });
    expect(q.facets).toBeUndefined();
    // Facets depend on the filters alone: another page or sort asks for the same facet query (so it is cached).
    const facets = facetsQuery(f);
    expect(facets).toMatchObject({ status: ["using", "tried"], tag: ["a", "b"], tag_mode: "all", facets: true, limit: 1 });
    const other = parseFilters(new URLSearchParams("status=using&status=tried&tag=a&tag=b&tag_mode=all&page=3&sort=name&order=asc"));
    expect(facetsQuery(other)).toEqual(facets);
    expect(filtersToQuery(other)).not.toEqual(q);
  });

  it("drops URL values outside the API's enums instead of sending them", () => {
    const f = parseFilters(new URLSearchParams("status=using&status=retired&model_type=LLM&model_type=Robot&sort=popularity"));
    expect(f.status).toEqual(["using"]);
    expect(f.model_type).toEqual(["LLM"]);
    expect(f.sort).toBe("updated");
  });
});
