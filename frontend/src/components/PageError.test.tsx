import { MantineProvider } from "@mantine/core";
import { render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { PageError } from "./PageError";

function Broken({ message }: { message: string }): never {
  throw new Error(message);
}

describe("PageError", () => {
  it("turns a page chunk that is gone into a reload offer, keeping the rest", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    render(
      <MantineProvider>
        <p>header</p>
        <PageError resetKey="/usage">
          <Broken message="Failed to fetch dynamically imported module: /assets/Usage-x.js" />
        </PageError>
      </MantineProvider>,
    );
    expect(screen.getByRole("alert").textContent).toContain("Helix was probably updated");
    expect(screen.getByRole("button", { name: "Reload" })).toBeTruthy();
    expect(screen.getByText("header")).toBeTruthy();
  });

  it("shows another error's message and tries again on another page", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { rerender } = render(
      <MantineProvider>
        <PageError resetKey="/a">
          <Broken message="boom" />
        </PageError>
      </MantineProvider>,
    );
    expect(screen.getByRole("alert").textContent).toContain("boom");
    rerender(
      <MantineProvider>
        <PageError resetKey="/b">
          <p>fine</p>
        </PageError>
      </MantineProvider>,
    );
    expect(screen.getByText("fine")).toBeTruthy();
  });
});
