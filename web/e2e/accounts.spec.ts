// Runs against its own server (project "accounts" in playwright.config.ts): the first sign-up switches a server
// into accounts mode for good.
import { expect, test, type Page } from "@playwright/test";

const USER = "alice";
const PASSWORD = "correct-horse-battery-42";

async function logIn(page: Page) {
  await page.getByLabel("Username or email").fill(USER);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
}

async function logOut(page: Page) {
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
}

test.describe.configure({ mode: "serial" });

test("sign up, log out, log in, API token shown once then revoked, bookmarklet capture", async ({ page, request }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // single-user mode → create the first account
  await page.goto("/");
  await page.getByTestId("user-menu").click();
  await expect(page.getByText("Single-user mode: no login needed")).toBeVisible();
  await page.getByRole("menuitem", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Email").fill("alice@example.org");
  await page.getByLabel("Password").fill(PASSWORD);
  // no account yet: the first one needs the server's one-time setup token (playwright.config.ts fixes it)
  await page.getByLabel("Setup token").fill("not-the-token");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("alert")).toContainText("setup token");
  await page.getByLabel("Setup token").fill(process.env.MM_E2E_SETUP_TOKEN ?? "");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("user-menu")).toContainText(USER);

  // log out; anonymous pages now send you to the login page and back
  await logOut(page);
  await page.goto("/models");
  await expect(page).toHaveURL(/\/login\?next=%2Fmodels$/);
  await page.getByLabel("Password").fill("wrong-password-123");
  await page.getByLabel("Username or email").fill(USER);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await logIn(page);
  await expect(page).toHaveURL(/\/models$/);
  await expect(page.getByTestId("user-menu")).toContainText(USER);

  // API token: created, shown once, works, revoked, stops working
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await page.getByLabel("Token name").fill("ci script");
  await page.getByLabel("Access").selectOption("write");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByTestId("new-token")).toContainText("shown only once");
  const secret = await page.getByLabel("New API token").inputValue();
  expect(secret.length).toBeGreaterThan(20);
  const me = await request.get("/api/v1/auth/me", { headers: { Authorization: `Bearer ${secret}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).username).toBe(USER);
  const row = page.getByTestId("token-row").filter({ hasText: "ci script" });
  await expect(row).toContainText("read, write");
  await page.reload();
  await expect(page.getByTestId("new-token")).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  await page.getByRole("button", { name: "Revoke ci script" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByTestId("token-row")).toHaveCount(0);
  const after = await request.get("/api/v1/auth/me", { headers: { Authorization: `Bearer ${secret}` } });
  expect(after.status()).toBe(401);

  // the bookmarklet: no secret in it; run it on a (faked) Hugging Face page while logged out
  const href = (await page.getByTestId("bookmarklet").getAttribute("href")) ?? "";
  expect(href.startsWith("javascript:")).toBe(true);
  for (const bad of ["cookie", "token", "Storage", "mm_"]) expect(href).not.toContain(bad);
  await logOut(page);
  await page.route("https://huggingface.co/**", (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>acme/tiny-llm · Hugging Face</title><p>fake model page</p>" }),
  );
  await page.goto("https://huggingface.co/acme/tiny-llm");
  const code = href.slice("javascript:".length).replace(/;$/, "");
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.evaluate(code)]);
  popup.on("pageerror", (e) => errors.push(e.message));
  await expect(popup).toHaveURL(/\/login\?next=%2Fcapture%3Furl%3D/);
  await logIn(popup);
  await expect(popup).toHaveURL(/\/capture\?url=/);
  await expect(popup.getByLabel("Name")).toHaveValue("tiny-llm");
  await expect(popup.getByLabel("Hugging Face id")).toHaveValue("acme/tiny-llm");
  await expect(popup.getByTestId("capture-link")).toHaveText("https://huggingface.co/acme/tiny-llm");
  await popup.getByRole("button", { name: "Save" }).click();
  await expect(popup).toHaveURL(/\/entries\/\d+$/);
  await expect(popup.getByTestId("entry-title")).toHaveText("tiny-llm");

  const list = await (await popup.request.get("/api/v1/entries?limit=50")).json();
  const saved = list.items.find((e: { name: string }) => e.name === "tiny-llm");
  expect(saved).toMatchObject({ hf_repo_id: "acme/tiny-llm", source_links: ["https://huggingface.co/acme/tiny-llm"] });

  // capturing it again: the duplicate is refused with a link to the existing entry
  await popup.goBack();
  await expect(popup).toHaveURL(/\/capture\?url=/);
  await popup.getByRole("button", { name: "Save" }).click();
  await popup.getByRole("link", { name: "Open the existing entry" }).click();
  await expect(popup).toHaveURL(new RegExp(`/entries/${saved.id}$`));
  expect(errors).toEqual([]);
});
