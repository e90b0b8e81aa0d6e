import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { renderWithProviders } from "@/test/render";
import { DemoPanel } from "@/components/hub/DemoPanel";

/** A stream whose chunks are released one by one by the test (to see tokens appear while it streams). */
function controlledStream() {
  const enc = new TextEncoder();
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
    },
  });
  return {
    response: new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    push: (s: string) => ctrl.enqueue(enc.encode(s)),
    close: () => ctrl.close(),
  };
}

afterEach(() => vi.unstubAllGlobals());

describe("DemoPanel", () => {
  it("streams tokens into the reply as they arrive, then shows the numbers", async () => {
    const stream = controlledStream();
    const fetchMock = vi.fn(async () => stream.response);
    vi.stubGlobal("fetch", fetchMock);
    renderWithProviders(<DemoPanel modelId={5} modelName="Support bot" />);
    await userEvent.type(screen.getByTestId("demo-input"), "Hello there");
    await userEvent.click(screen.getByTestId("demo-send"));

    expect(await screen.findByTestId("demo-stop")).toBeInTheDocument();
    stream.push('event: token\ndata: {"text":"Open"}\n\n');
    await waitFor(() => expect(screen.getByTestId("demo-reply")).toHaveTextContent("Open"));
    stream.push('event: token\ndata: {"text":" Settings"}\n\n');
    await waitFor(() => expect(screen.getByTestId("demo-reply")).toHaveTextContent("Open Settings"));
    expect(screen.getByTestId("demo-reply")).toHaveAttribute("data-streaming", "true");
    stream.push('event: done\ndata: {"tokens":2,"seconds":0.4,"finish_reason":"eos"}\n\n');
    stream.close();

    await waitFor(() => expect(screen.getByTestId("demo-info")).toHaveTextContent("2 tokens · 0.4 s · ended: eos"));
    expect(screen.getByTestId("demo-reply")).not.toHaveAttribute("data-streaming");
    expect(screen.getByTestId("demo-send")).toBeInTheDocument();
    const body = JSON.parse(String((fetchMock.mock.calls[0] as unknown as [string, RequestInit])[1].body));
    expect(body.messages).toEqual([{ role: "user", content: "Hello there" }]);
    expect(body.max_new_tokens).toBe(64);
  });

  it("sends the whole conversation on the next turn, and the settings", async () => {
    const replies = ["Hi!", "Fine."];
    const fetchMock = vi.fn(async () => {
      const s = controlledStream();
      s.push(`event: token\ndata: ${JSON.stringify({ text: replies.shift() })}\n\nevent: done\ndata: {"tokens":1}\n\n`);
      s.close();
      return s.response;
    });
    vi.stubGlobal("fetch", fetchMock);
    renderWithProviders(<DemoPanel modelId={5} modelName="Bot" />);
    await userEvent.click(screen.getByTestId("demo-settings-toggle"));
    fireEvent.change(screen.getByLabelText("Max new tokens"), { target: { value: "999" } });
    fireEvent.change(screen.getByLabelText("Temperature"), { target: { value: "0" } });
    fireEvent.change(screen.getByLabelText("Seed"), { target: { value: "42" } });
    await userEvent.type(screen.getByTestId("demo-input"), "Hello{Enter}");
    await waitFor(() => expect(screen.getByTestId("demo-reply")).toHaveTextContent("Hi!"));
    await waitFor(() => expect(screen.getByTestId("demo-send")).toBeInTheDocument());
    await userEvent.type(screen.getByTestId("demo-input"), "How are you?{Enter}");
    await waitFor(() => expect(screen.getAllByTestId("demo-reply")[1]).toHaveTextContent("Fine."));
    const second = JSON.parse(String((fetchMock.mock.calls[1] as unknown as [string, RequestInit])[1].body));
    expect(second).toEqual({
      messages: [
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Hi!" },
        { role: "user", content: "How are you?" },
      ],
      max_new_tokens: 256,
      temperature: 0,
      top_p: 0.95,
      seed: 42,
    });
  });

  it("stops on request and says so", async () => {
    const stream = controlledStream();
    vi.stubGlobal("fetch", vi.fn(async () => stream.response));
    renderWithProviders(<DemoPanel modelId={5} modelName="Bot" />);
    await userEvent.type(screen.getByTestId("demo-input"), "Go");
    await userEvent.click(screen.getByTestId("demo-send"));
    stream.push('event: token\ndata: {"text":"Once"}\n\n');
    await waitFor(() => expect(screen.getByTestId("demo-reply")).toHaveTextContent("Once"));
    await userEvent.click(screen.getByTestId("demo-stop"));
    await waitFor(() => expect(screen.getByTestId("demo-info")).toHaveTextContent("Stopped."));
    expect(screen.getByTestId("demo-reply")).toHaveTextContent("Once");
  });

  it("explains clearly when the model cannot run here (409) and keeps the question", async () => {
    const body = JSON.stringify({ error: { code: "model_unavailable", message: "The base model's weights are not on this server." } });
    vi.stubGlobal("fetch", vi.fn(async () => new Response(body, { status: 409, headers: { "Content-Type": "application/json" } })));
    renderWithProviders(<DemoPanel modelId={5} modelName="Bot" />);
    await userEvent.type(screen.getByTestId("demo-input"), "Hello");
    await userEvent.click(screen.getByTestId("demo-send"));
    expect(await screen.findByTestId("demo-unavailable")).toHaveTextContent("The base model's weights are not on this server.");
    expect(screen.queryByTestId("demo-reply")).toBeNull();
    expect(screen.getByTestId("demo-input")).toHaveValue("Hello");
  });

  it("says when the server is busy, with the wait", async () => {
    const body = JSON.stringify({ error: { code: "busy", message: "Another generation is running." } });
    vi.stubGlobal("fetch", vi.fn(async () => new Response(body, { status: 429, headers: { "Content-Type": "application/json", "Retry-After": "5" } })));
    renderWithProviders(<DemoPanel modelId={5} modelName="Bot" />);
    await userEvent.type(screen.getByTestId("demo-input"), "Hello{Enter}");
    expect(await screen.findByTestId("demo-error")).toHaveTextContent("Another generation is running. Try again in 5 s.");
  });

  it("shows the reason instead of the chat box when the page says the model cannot be demoed", () => {
    renderWithProviders(<DemoPanel modelId={5} modelName="Bot" available={false} />);
    expect(screen.getByTestId("demo-unavailable")).toHaveTextContent("cannot be run on this server");
    expect(screen.queryByTestId("demo-input")).toBeNull();
  });

  it("renders model output as text, never as HTML", async () => {
    const s = controlledStream();
    s.push(`event: token\ndata: ${JSON.stringify({ text: '<img src=x onerror="window.__x=1">' })}\n\nevent: done\ndata: {}\n\n`);
    s.close();
    vi.stubGlobal("fetch", vi.fn(async () => s.response));
    const { container } = renderWithProviders(<DemoPanel modelId={5} modelName="Bot" />);
    await userEvent.type(screen.getByTestId("demo-input"), "x{Enter}");
    await waitFor(() => expect(screen.getByTestId("demo-reply")).toHaveTextContent('<img src=x onerror="window.__x=1">'));
    expect(container.querySelector("img")).toBeNull();
  });
});
