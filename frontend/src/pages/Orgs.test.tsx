import { MantineProvider } from "@mantine/core";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import { MeContext, type Me } from "../me";
import { grantableRoles, OrgsPage } from "./Orgs";

type Reply = { data?: unknown; error?: unknown };
type Call = { method: string; path: string; init?: { params?: { path?: Record<string, string> }; body?: unknown } };

// A fake API: each test says what `METHOD path` answers; every call is recorded.
const fake = vi.hoisted(() => {
  const state = { calls: [] as Call[], routes: {} as Record<string, (c: Call) => Reply> };
  const handler = (method: string) => async (path: string, init?: Call["init"]) => {
    const call = { method, path, init };
    state.calls.push(call);
    const route = state.routes[`${method} ${path}`];
    return route ? route(call) : { error: { error: { code: "not_found", message: `no route ${method} ${path}` } } };
  };
  return { state, handler };
});
const { state } = fake;
vi.mock("../api/client", async (original) => ({
  ...(await original<typeof import("../api/client")>()),
  api: { GET: fake.handler("GET"), POST: fake.handler("POST"), PATCH: fake.handler("PATCH"), DELETE: fake.handler("DELETE") },
}));

const me: Me = {
  auth: "session",
  orgs: [],
  user: { id: "usr_me", email: "me@example.com", name: "Me", is_admin: false, created_at: "2026-01-01T00:00:00Z" },
};
const org = (role: Schemas["Role"]): Schemas["OrgWithRole"] => ({ id: "org_1", name: "Acme", created_at: "2026-01-01T00:00:00Z", role });
const member = (user_id: string, email: string, role: Schemas["Role"]): Schemas["Member"] => ({
  org_id: "org_1",
  user_id,
  email,
  name: email.split("@")[0],
  role,
  created_at: "2026-01-01T00:00:00Z",
});

function renderPage() {
  render(
    <MantineProvider>
      <MeContext.Provider value={me}>
        <OrgsPage />
      </MeContext.Provider>
    </MantineProvider>,
  );
}

async function openAcme(role: Schemas["Role"], members: Schemas["Member"][]) {
  state.routes["GET /api/v1/orgs"] = () => ({ data: [org(role)] });
  state.routes["GET /api/v1/orgs/{org_id}/members"] = () => ({ data: members });
  renderPage();
  fireEvent.click(await screen.findByRole("button", { name: "Open Acme" }));
  await screen.findByRole("table", { name: "Members of Acme" });
}

beforeEach(() => {
  state.calls = [];
  state.routes = {};
});
afterEach(cleanup);

describe("grantableRoles", () => {
  it("lets only owners grant ownership", () => {
    expect(grantableRoles("owner")).toEqual(["owner", "admin", "member"]);
    expect(grantableRoles("admin")).toEqual(["admin", "member"]);
    expect(grantableRoles("member")).toEqual([]);
  });
});

describe("OrgsPage", () => {
  it("says when the caller is in no org", async () => {
    state.routes["GET /api/v1/orgs"] = () => ({ data: [] });
    renderPage();
    expect(await screen.findByText("You are not in any org yet")).toBeTruthy();
  });

  it("shows members read-only to a member, who may only leave", async () => {
    await openAcme("member", [member("usr_owner", "boss@example.com", "owner"), member("usr_me", "me@example.com", "member")]);
    expect(screen.queryByLabelText("Member email")).toBeNull();
    expect(screen.queryByLabelText("Role of boss@example.com")).toBeNull();
    expect(screen.queryByRole("button", { name: "Remove boss@example.com" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete org" })).toBeNull();
    expect(screen.getByRole("button", { name: "Leave Acme" })).toBeTruthy();
  });

  it("keeps owners out of an org admin's reach", async () => {
    await openAcme("admin", [member("usr_owner", "boss@example.com", "owner"), member("usr_x", "x@example.com", "member")]);
    expect(screen.queryByLabelText("Role of boss@example.com")).toBeNull();
    expect(screen.queryByRole("button", { name: "Remove boss@example.com" })).toBeNull();
    const select = screen.getByLabelText("Role of x@example.com") as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(["admin", "member"]);
    expect(screen.getByRole("button", { name: "Rename org" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Delete org" })).toBeNull();
  });

  it("lets an owner add, change and remove members, and shows the server's errors", async () => {
    await openAcme("owner", [member("usr_me", "me@example.com", "owner"), member("usr_x", "x@example.com", "member")]);

    state.routes["POST /api/v1/orgs/{org_id}/members"] = () => ({ error: { error: { code: "not_found", message: "user with email nobody@example.com not found" } } });
    fireEvent.change(screen.getByLabelText(/Member email/), { target: { value: "nobody@example.com" } });
    fireEvent.change(screen.getByLabelText(/^Role$/), { target: { value: "admin" } });
    fireEvent.click(screen.getByRole("button", { name: "Add member" }));
    expect((await screen.findByRole("alert")).textContent).toContain("nobody@example.com not found");
    expect(state.calls.find((c) => c.method === "POST")?.init).toEqual({ params: { path: { org_id: "org_1" } }, body: { email: "nobody@example.com", role: "admin" } });

    state.routes["PATCH /api/v1/orgs/{org_id}/members/{user_id}"] = () => ({ data: member("usr_x", "x@example.com", "admin") });
    fireEvent.change(screen.getByLabelText("Role of x@example.com"), { target: { value: "admin" } });
    await waitFor(() => expect(state.calls.some((c) => c.method === "PATCH")).toBe(true));
    expect(state.calls.find((c) => c.method === "PATCH")?.init).toEqual({ params: { path: { org_id: "org_1", user_id: "usr_x" } }, body: { role: "admin" } });
    await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());

    state.routes["DELETE /api/v1/orgs/{org_id}/members/{user_id}"] = () => ({ error: { error: { code: "conflict", message: "org org_1 must keep at least one owner" } } });
    fireEvent.click(screen.getByRole("button", { name: "Remove me@example.com" }));
    expect((await screen.findByRole("alert")).textContent).toContain("must keep at least one owner");
  });

  it("deletes an org only after confirmation", async () => {
    await openAcme("owner", [member("usr_me", "me@example.com", "owner")]);
    state.routes["DELETE /api/v1/orgs/{org_id}"] = () => {
      state.routes["GET /api/v1/orgs"] = () => ({ data: [] });
      return {};
    };
    fireEvent.click(screen.getByRole("button", { name: "Delete org" }));
    expect(state.calls.some((c) => c.method === "DELETE")).toBe(false);
    fireEvent.click(await screen.findByRole("button", { name: "Delete forever" }));
    expect(await screen.findByText("You are not in any org yet")).toBeTruthy();
    expect(screen.queryByRole("table", { name: "Members of Acme" })).toBeNull();
  });
});
