import { MantineProvider } from "@mantine/core";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Interaction } from "../api/client";
import { Message } from "./Message";

const msg = (over: Partial<Interaction>): Interaction => ({
  id: "int_1",
  session_id: "ses_1",
  seq: 0,
  role: "assistant",
  content: "",
  state: "complete",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  ...over,
});

describe("Message", () => {
  it("renders the assistant's Markdown, code included", () => {
    render(
      <MantineProvider>
        <Message interaction={msg({ content: "**bold** and `code`\n\n```\nfn main() {}\n```" })} />
      </MantineProvider>,
    );
    expect(screen.getByText("bold").tagName).toBe("STRONG");
    expect(screen.getByText("fn main() {}").tagName).toBe("CODE");
  });

  it("shows a failed answer's error", () => {
    render(
      <MantineProvider>
        <Message interaction={msg({ state: "error", error: "upstream_error: boom" })} />
      </MantineProvider>,
    );
    expect(screen.getByRole("alert").textContent).toContain("boom");
  });

  it("keeps the user's text as written", () => {
    render(
      <MantineProvider>
        <Message interaction={msg({ role: "user", content: "**not markdown**" })} />
      </MantineProvider>,
    );
    expect(screen.getByText("**not markdown**")).toBeTruthy();
  });
});

describe("Message code and editing", () => {
  it("highlights a fenced block that names its language", async () => {
    const { container } = render(
      <MantineProvider>
        <Message interaction={msg({ content: '```rust\nfn main() { let s = "hi"; }\n```' })} />
      </MantineProvider>,
    );
    // The highlighter loads on first need; the code shows plain until then.
    await waitFor(() => expect(container.querySelector("code.hljs.language-rust")).toBeTruthy());
    expect(container.querySelector(".hljs-keyword")?.textContent).toBe("fn");
    expect(container.querySelector(".hljs-string")?.textContent).toBe('"hi"');
  });

  it("edits a user message and hands the new text over", async () => {
    const sent: string[] = [];
    render(
      <MantineProvider>
        <Message interaction={msg({ role: "user", content: "first try" })} onEdit={(t) => sent.push(t)} />
      </MantineProvider>,
    );
    fireEvent.click(screen.getByRole("button", { name: "Edit" }));
    const box = screen.getByLabelText("Edited message") as HTMLTextAreaElement;
    expect(box.value).toBe("first try");
    fireEvent.change(box, { target: { value: "  second try  " } });
    fireEvent.click(screen.getByRole("button", { name: "Send edited" }));
    expect(sent).toEqual(["second try"]);
    expect(screen.queryByLabelText("Edited message")).toBeNull();
  });

  it("offers no edit without a handler", () => {
    render(
      <MantineProvider>
        <Message interaction={msg({ role: "user", content: "hi" })} />
      </MantineProvider>,
    );
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
  });
});
