import { afterEach, describe, expect, it, vi } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { SignupPage } from "@/pages/Auth";
import { renderWithProviders } from "./render";

afterEach(() => {
  vi.unstubAllGlobals();
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function stubServer(state: Record<string, unknown>) {
  const bodies: unknown[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const path = new URL(String(input), "http://localhost").pathname;
      if (path === "/api/v1/auth/state") return json(state);
      if (path === "/api/v1/auth/signup") {
        bodies.push(JSON.parse(String(init?.body)));
        return json({ user: { id: 1, username: "alice" } }, 201);
      }
      return json({ error: { code: "not_found", message: path } }, 404);
    }),
  );
  return bodies;
}

async function fillAndSubmit() {
  await userEvent.type(screen.getByLabelText("Username"), "alice");
  await userEvent.type(screen.getByLabelText("Email"), "alice@example.org");
  await userEvent.type(screen.getByLabelText("Password"), "a-long-enough-password");
}

describe("SignupPage", () => {
  it("asks for the setup token while no account exists, and sends it", async () => {
    const bodies = stubServer({ mode: "single_user", user: null, signup_open: true, setup_required: true });
    renderWithProviders(<SignupPage />, { route: "/signup" });
    const token = await screen.findByLabelText("Setup token");
    await fillAndSubmit();
    await userEvent.type(token, " tok-123 ");
    await userEvent.click(screen.getByRole("button", { name: "Create account" }));
    await waitFor(() => expect(bodies).toHaveLength(1));
    expect(bodies[0]).toEqual({ username: "alice", email: "alice@example.org", password: "a-long-enough-password", setup_token: "tok-123" });
  });

  it("has no token field once accounts exist", async () => {
    const bodies = stubServer({ mode: "accounts", user: null, signup_open: true, setup_required: false });
    renderWithProviders(<SignupPage />, { route: "/signup" });
    await screen.findByText("Sign up for ModelMate.");
    expect(screen.queryByLabelText("Setup token")).toBeNull();
    await fillAndSubmit();
    await userEvent.click(screen.getByRole("button", { name: "Create account" }));
    await waitFor(() => expect(bodies).toHaveLength(1));
    expect(bodies[0]).not.toHaveProperty("setup_token");
  });
});
