import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { GGUFImport, importKey, nameFromGGUF } from "@/components/hub/GGUFImport";
import BaseModels, { BaseModelTable } from "@/pages/hub/BaseModels";
import type { BaseModelOut, JobOut } from "@/lib/types";
import { renderWithProviders } from "./render";

const SHA = "4f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";

function base(over: Partial<BaseModelOut> = {}): BaseModelOut {
  return {
    id: 1,
    key: "tiny",
    name: "Tiny toy Llama (TOY)",
    parameters: 926_336,
    license: "apache-2.0",
    gated: false,
    toy: true,
    available: true,
    unavailable_reason: null,
    context_length: 512,
    ...over,
  };
}

const imported = base({
  id: 2,
  key: "local-smollm2",
  name: "SmolLM2",
  toy: false,
  parameters: 134_515_008,
  source: { format: "gguf", file: "SmolLM2-135M-Instruct.Q4_1.gguf", size_bytes: 98_000_000, sha256: SHA, quantization: "Q4_1", stored_dtype: "bfloat16" },
});

function job(over: Partial<JobOut> = {}): JobOut {
  return {
    id: 7,
    kind: "import_model",
    status: "running",
    progress: 0.4,
    progress_message: "dequantizing 272 tensors (Q4_1) with transformers",
    attempts: 1,
    max_attempts: 1,
    cancel_requested: false,
    created_at: "2025-01-01T00:00:00Z",
    ...over,
  };
}

/** XMLHttpRequest as uploadWithProgress uses it; the test drives progress and the answer. */
class FakeXHR {
  static last: FakeXHR | null = null;
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  status = 0;
  statusText = "";
  responseText = "";
  withCredentials = false;
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: FormData | null = null;
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  send(body: FormData) {
    this.body = body;
    FakeXHR.last = this;
  }
  abort() {
    this.onabort?.();
  }
  progress(fraction: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded: fraction * 100, total: 100 });
  }
  finish(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

beforeEach(() => {
  FakeXHR.last = null;
  vi.stubGlobal("XMLHttpRequest", FakeXHR);
});
afterEach(() => vi.unstubAllGlobals());

function gguf(name = "SmolLM2-135M-Instruct.Q4_1.gguf") {
  return new File([new Uint8Array([71, 71, 85, 70, 3, 0, 0, 0])], name, { type: "application/octet-stream" });
}

describe("helpers", () => {
  it("derives the key the server gives and a name from a GGUF file name", () => {
    expect(importKey("SmolLM2 135M Instruct")).toBe("local-smollm2-135m-instruct");
    expect(importKey("  !!! ")).toBe("local-model");
    expect(nameFromGGUF("SmolLM2-135M-Instruct.Q4_1.gguf")).toBe("SmolLM2 135M Instruct");
    expect(nameFromGGUF("qwen2_0.5b-f16.gguf")).toBe("qwen2 0.5b");
  });
});

describe("base model table", () => {
  it("shows key, readiness, the reason a model is unavailable and the GGUF provenance", () => {
    render(
      <BaseModelTable
        models={[base(), imported, base({ id: 3, key: "llama-3.2-1b", name: "Llama 3.2 1B", toy: false, gated: true, available: false, unavailable_reason: "gated on Hugging Face" })]}
      />,
    );
    const rows = screen.getAllByTestId("base-model-row");
    expect(rows).toHaveLength(3);
    expect(within(rows[0]).getByText("ready")).toBeInTheDocument();
    expect(within(rows[0]).getByText("toy")).toBeInTheDocument();
    const provenance = within(rows[1]).getByTestId("provenance");
    expect(provenance).toHaveTextContent("SmolLM2-135M-Instruct.Q4_1.gguf");
    expect(provenance).toHaveTextContent("Q4_1 · stored as bfloat16");
    expect(provenance).toHaveTextContent(`sha256 ${SHA.slice(0, 12)}…`);
    expect(within(rows[1]).getByText("local-smollm2")).toBeInTheDocument();
    expect(within(rows[2]).getByText("unavailable")).toBeInTheDocument();
    expect(within(rows[2]).getByTestId("unavailable-reason")).toHaveTextContent("gated on Hugging Face");
  });
});

describe("GGUF import", () => {
  it("uploads with progress, then follows the job until the model is ready", async () => {
    const jobs = [job(), job({ status: "succeeded", progress: 1, progress_message: "imported: base model local-smollm2-135m-instruct is ready", result: { key: "local-smollm2-135m-instruct" } })];
    const fetchMock = vi.fn(async (url: string) => {
      if (url.startsWith("/api/v1/jobs/7")) return json(jobs.length > 1 ? jobs.shift() : jobs[0]);
      return json([]);
    });
    vi.stubGlobal("fetch", fetchMock);
    renderWithProviders(<GGUFImport existing={[base()]} />);
    await userEvent.upload(screen.getByTestId("gguf-file"), gguf());
    expect(screen.getByLabelText("Name")).toHaveValue("SmolLM2 135M Instruct");
    expect(screen.getByTestId("gguf-key")).toHaveTextContent("Its key will be local-smollm2-135m-instruct.");
    await userEvent.type(screen.getByLabelText("License"), "apache-2.0");
    await userEvent.click(screen.getByRole("button", { name: /Import model/ }));

    const xhr = FakeXHR.last as FakeXHR;
    expect(xhr.method).toBe("POST");
    expect(xhr.url).toBe("/api/v1/base-models/gguf");
    expect([...(xhr.body as FormData).keys()]).toEqual(["name", "license", "file"]); // the text fields first
    expect((xhr.body as FormData).get("license")).toBe("apache-2.0");
    act(() => xhr.progress(0.5));
    expect(screen.getByRole("progressbar", { name: "Upload progress" })).toHaveAttribute("aria-valuenow", "50");
    expect(screen.getByText("Uploading… 50%")).toBeInTheDocument();
    act(() =>
      xhr.finish(202, { job_id: 7, status: "queued", key: "local-smollm2-135m-instruct", name: "SmolLM2 135M Instruct", file_name: "SmolLM2-135M-Instruct.Q4_1.gguf", size_bytes: 8, architecture: "llama", quantization: "Q4_1" }),
    );
    expect(await screen.findByText(/dequantizing 272 tensors/)).toBeInTheDocument();
    expect(screen.getByRole("progressbar", { name: "Import progress" })).toHaveAttribute("aria-valuenow", "40");
    expect(await screen.findByTestId("import-done", {}, { timeout: 3000 })).toHaveTextContent("Imported: base model local-smollm2-135m-instruct is ready.");
    expect(screen.getByRole("link", { name: "Train with it" })).toHaveAttribute("href", "/hub/train?base=local-smollm2-135m-instruct");
  });

  it("shows the server's message when the file is refused", async () => {
    renderWithProviders(<GGUFImport existing={[]} />);
    await userEvent.upload(screen.getByTestId("gguf-file"), gguf("notes.gguf"));
    await userEvent.click(screen.getByRole("button", { name: /Import model/ }));
    act(() =>
      (FakeXHR.last as FakeXHR).finish(422, { error: { code: "invalid_gguf", message: "notes.gguf is not a GGUF file (it does not start with the GGUF signature)" } }),
    );
    expect(await screen.findByTestId("gguf-upload-error")).toHaveTextContent("notes.gguf is not a GGUF file (it does not start with the GGUF signature)");
  });

  it("shows a failed job's plain message", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json(job({ status: "failed", error: { type: "PermanentJobError", message: "transformers could not load toy.gguf" } }))));
    renderWithProviders(<GGUFImport existing={[]} />);
    await userEvent.upload(screen.getByTestId("gguf-file"), gguf("toy.gguf"));
    await userEvent.click(screen.getByRole("button", { name: /Import model/ }));
    act(() => (FakeXHR.last as FakeXHR).finish(202, { job_id: 7, status: "queued", key: "local-toy", name: "toy", size_bytes: 8, architecture: "llama", quantization: "F32" }));
    expect(await screen.findByTestId("import-error")).toHaveTextContent("The import failed.transformers could not load toy.gguf");
  });

  it("refuses a name whose key is taken before uploading", async () => {
    renderWithProviders(<GGUFImport existing={[imported]} />);
    await userEvent.upload(screen.getByTestId("gguf-file"), gguf("x.gguf"));
    const name = screen.getByLabelText("Name");
    await userEvent.clear(name);
    await userEvent.type(name, "SmolLM2");
    expect(screen.getByTestId("gguf-key")).toHaveTextContent("The key local-smollm2 is taken: choose another name.");
    expect(screen.getByRole("button", { name: /Import model/ })).toBeDisabled();
    expect(FakeXHR.last).toBeNull();
  });
});

describe("base models page", () => {
  function stubApi(isAdmin: boolean) {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        if (url.startsWith("/api/v1/auth/state")) return json({ mode: "accounts", signup_open: false, user: { id: 1, username: "u", is_admin: isAdmin, is_active: true, is_local: false, created_at: "2025-01-01T00:00:00Z" } });
        if (url.startsWith("/api/v1/base-models")) return json([base(), imported]);
        if (url.startsWith("/api/v1/jobs")) return json({ items: [job({ id: 9 }), job({ id: 10, status: "succeeded" })], total: 2, limit: 20, offset: 0 });
        return json({});
      }),
    );
  }

  it("lists the base models and offers the import form to administrators, with imports in progress", async () => {
    stubApi(true);
    renderWithProviders(<BaseModels />);
    expect(await screen.findAllByTestId("base-model-row")).toHaveLength(2);
    expect(await screen.findByTestId("gguf-import")).toBeInTheDocument();
    const active = await screen.findByTestId("active-imports");
    expect(within(active).getAllByTestId("import-progress")).toHaveLength(1);
  });

  it("tells other users that only administrators import models", async () => {
    stubApi(false);
    renderWithProviders(<BaseModels />);
    expect(await screen.findAllByTestId("base-model-row")).toHaveLength(2);
    await waitFor(() => expect(screen.getByTestId("admin-only")).toHaveTextContent("Only administrators can import models"));
    expect(screen.queryByTestId("gguf-import")).toBeNull();
  });
});
