import { MantineProvider } from "@mantine/core";
import { render, screen } from "@testing-library/react";
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
