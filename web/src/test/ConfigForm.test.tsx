import { useState } from "react";
import { describe, expect, it } from "vitest";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ConfigForm } from "@/components/hub/ConfigForm";
import { ApiError } from "@/lib/api";
import { fieldErrors, fieldLabel, newIdempotencyKey, rowErrors } from "@/lib/hub";
import { baseValues, changedValues, checkField, draftFromValues, parseDraft, type Draft } from "@/lib/hubConfig";
import { OPTIONS } from "./hubFixtures";

const FIELDS = OPTIONS.fields;
const field = (name: string) => FIELDS.find((f) => f.name === name)!;

function Harness({ serverErrors = {}, initial }: { serverErrors?: Record<string, string>; initial?: Draft }) {
  const base = draftFromValues(FIELDS, baseValues(FIELDS));
  const [draft, setDraft] = useState<Draft>(initial ?? base);
  return (
    <>
      <ConfigForm fields={FIELDS} draft={draft} base={base} serverErrors={serverErrors} onChange={(n, v) => setDraft((d) => ({ ...d, [n]: v }))} />
      <output data-testid="values">{JSON.stringify(parseDraft(FIELDS, draft))}</output>
    </>
  );
}

const parsed = () => JSON.parse(screen.getByTestId("values").textContent!) as { values: Record<string, unknown>; errors: Record<string, string> };

describe("ConfigForm", () => {
  it("renders every field of the options, with its help text, grouped basic / advanced", () => {
    render(<Harness />);
    expect(FIELDS.length).toBeGreaterThan(20);
    for (const f of FIELDS) {
      const box = screen.getByTestId(`field-${f.name}`);
      expect(within(box).getByText(f.name, { selector: "code" })).toBeInTheDocument();
      expect(box).toHaveTextContent(f.help);
      // The input is labelled and points at its help text.
      const input = within(box).getByLabelText(new RegExp(`^${fieldLabel(f.name)} ${f.name}`));
      expect(input.getAttribute("aria-describedby")).toContain(`cfg-${f.name}-help`);
    }
    const basics = screen.getByText("Basics").closest(".rounded-lg")!;
    const advanced = screen.getByText("Advanced").closest(".rounded-lg")!;
    expect(within(basics as HTMLElement).getByTestId("field-learning_rate")).toBeInTheDocument();
    expect(within(advanced as HTMLElement).getByTestId("field-lr_scheduler")).toBeInTheDocument();
    expect(within(basics as HTMLElement).queryByTestId("field-lr_scheduler")).toBeNull();
  });

  it("picks the input from the field type and shows defaults and bounds", () => {
    render(<Harness />);
    const r = screen.getByLabelText(/^LoRA rank/) as HTMLInputElement;
    expect(r.type).toBe("number");
    expect(r.min).toBe("1");
    expect(r.max).toBe("256");
    expect(r.value).toBe("8");
    expect(screen.getByTestId("field-r")).toHaveTextContent("(default 8; 1 – 256)");
    expect(screen.getByTestId("field-alpha")).toHaveTextContent("more than 0, at most 1024");
    expect(screen.getByRole("checkbox", { name: /^Packing/ })).toHaveAttribute("data-state", "checked");
    const sched = screen.getByRole("combobox", { name: /^Learning-rate schedule/ }) as HTMLSelectElement;
    expect([...sched.options].map((o) => o.value)).toEqual(["linear", "cosine", "constant", "constant_with_warmup"]);
    expect(sched.value).toBe("cosine");
    const targets = screen.getByRole("textbox", { name: /^Target modules/ }) as HTMLInputElement;
    expect(targets.value).toBe("");
    expect(targets.placeholder).toBe("Automatic");
    expect((screen.getByLabelText(/^Max steps/) as HTMLInputElement).placeholder).toBe("Automatic");
  });

  it("checks bounds on the client and says what is wrong next to the field", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const r = screen.getByLabelText(/^LoRA rank/);
    await user.clear(r);
    await user.type(r, "300");
    expect(screen.getByTestId("error-r")).toHaveTextContent("Must be at most 256.");
    expect(r).toHaveAttribute("aria-invalid", "true");
    await user.clear(r);
    expect(screen.getByTestId("error-r")).toHaveTextContent("Required.");
    await user.type(r, "16");
    expect(screen.queryByTestId("error-r")).toBeNull();

    const alpha = screen.getByLabelText(/^LoRA alpha/);
    await user.clear(alpha);
    await user.type(alpha, "0");
    expect(screen.getByTestId("error-alpha")).toHaveTextContent("Must be more than 0.");

    const batch = screen.getByLabelText(/^Batch size/);
    await user.clear(batch);
    await user.type(batch, "2.5");
    expect(screen.getByTestId("error-batch_size")).toHaveTextContent("Must be a whole number.");

    const maxSteps = screen.getByLabelText(/^Max steps/);
    await user.type(maxSteps, "5");
    expect(screen.queryByTestId("error-max_steps")).toBeNull();
    const p = parsed();
    expect(p.values).toMatchObject({ r: 16, max_steps: 5 });
    expect(Object.keys(p.errors).sort()).toEqual(["alpha", "batch_size"]);
    expect(screen.getByTestId("field-r")).toHaveAttribute("data-changed", "true");
  });

  it("shows the server's 422 message next to the field it names", () => {
    render(<Harness serverErrors={{ learning_rate: "Input should be less than or equal to 0.01" }} />);
    expect(screen.getByTestId("error-learning_rate")).toHaveTextContent("Input should be less than or equal to 0.01");
    expect(screen.getByLabelText(/^Learning rate/)).toHaveAttribute("aria-invalid", "true");
    expect(screen.getAllByRole("alert")).toHaveLength(1);
  });

  it("sends lists, nulls and booleans as the API expects", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.type(screen.getByRole("textbox", { name: /^Target modules/ }), "q_proj, v_proj");
    await user.click(screen.getByRole("checkbox", { name: /^Packing/ }));
    await user.selectOptions(screen.getByRole("combobox", { name: /^Precision/ }), "fp32");
    const { values, errors } = parsed();
    expect(errors).toEqual({});
    expect(values).toMatchObject({ target_modules: ["q_proj", "v_proj"], packing: false, precision: "fp32", max_steps: null, eval_steps: null });
  });
});

describe("config draft logic", () => {
  it("round-trips a preset and sends only what differs from it", () => {
    const quick = OPTIONS.presets.find((p) => p.key === "quick")!;
    const base = baseValues(FIELDS, quick.values);
    const { values, errors } = parseDraft(FIELDS, draftFromValues(FIELDS, base));
    expect(errors).toEqual({});
    expect(values.max_steps).toBe(quick.values.max_steps);
    expect(changedValues(FIELDS, values, base)).toEqual({});
    expect(changedValues(FIELDS, { ...values, r: 4, target_modules: ["q_proj"] }, base)).toEqual({ r: 4, target_modules: ["q_proj"] });
  });

  it("checks each kind of field", () => {
    expect(checkField(field("learning_rate"), "0.02").error).toBe("Must be at most 0.01.");
    expect(checkField(field("learning_rate"), "1e-4")).toEqual({ value: 0.0001 });
    expect(checkField(field("epochs"), "abc").error).toBe("Must be a number.");
    expect(checkField(field("eval_steps"), "")).toEqual({ value: null });
    expect(checkField(field("lr_scheduler"), "exponential").error).toMatch(/Pick one of/);
    expect(checkField(field("target_modules"), " ")).toEqual({ value: null });
  });
});

describe("hub error helpers", () => {
  const names = FIELDS.map((f) => f.name);

  it("maps FastAPI request-validation details onto config fields", () => {
    const err = new ApiError(422, {
      code: "invalid_request",
      message: "config.r: Input should be less than or equal to 256",
      details: [{ loc: ["body", "config", "r"], msg: "Input should be less than or equal to 256", type: "less_than_equal" }],
    });
    expect(fieldErrors(err, names)).toEqual({ r: "Input should be less than or equal to 256" });
  });

  it("maps ValidationFailed details (errors with field / loc) and keeps the rest general", () => {
    const err = new ApiError(422, {
      code: "validation_failed",
      message: "the training settings are not valid",
      details: { errors: [{ field: "learning_rate", message: "too high" }, { loc: ["batch_size"], msg: "too big" }, { message: "something else" }] },
    });
    expect(fieldErrors(err, names)).toEqual({ learning_rate: "too high", batch_size: "too big", "": "something else" });
    const bare = new ApiError(422, { code: "validation_failed", message: "no such preset 'fast'" });
    expect(fieldErrors(bare, names)).toEqual({ "": "no such preset 'fast'" });
    expect(fieldErrors(new ApiError(404, { code: "not_found", message: "x" }), names)).toEqual({});
  });

  it("reads the row errors of a refused upload", () => {
    const err = new ApiError(422, {
      code: "validation_failed",
      message: "2 rows are not valid",
      details: { errors: [{ row: 3, column: "text", message: "empty text" }, { row: null, column: null, message: "no rows" }] },
    });
    expect(rowErrors(err)).toEqual([
      { row: 3, column: "text", message: "empty text" },
      { row: null, column: null, message: "no rows" },
    ]);
  });

  it("makes a fresh v4 idempotency key every time", () => {
    const a = newIdempotencyKey();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newIdempotencyKey()).not.toBe(a);
  });
});
