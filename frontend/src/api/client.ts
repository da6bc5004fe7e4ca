// The typed API client: paths and bodies come from docs/openapi.json (src/api/schema.ts,
// regenerated with `npm run gen:api`; CI fails when it drifts).
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type ChatSession = Schemas["ChatSession"];
export type Interaction = Schemas["Interaction"];
export type ChatEvent = Schemas["ChatEvent"];
export type User = Schemas["User"];

/** The CSRF token the server set at login (a readable cookie). */
export function csrfToken(): string | undefined {
  return document.cookie
    .split("; ")
    .find((c) => c.startsWith("helix_csrf="))
    ?.slice("helix_csrf=".length);
}

const csrf: Middleware = {
  onRequest({ request }) {
    const token = csrfToken();
    if (token && request.method !== "GET" && request.method !== "HEAD") {
      request.headers.set("x-csrf-token", token);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(csrf);

/** A readable message for an error body (`{"error": {"code", "message"}}`) or anything else. */
export function errorMessage(error: unknown): string {
  if (error && typeof error === "object" && "error" in error) {
    const e = (error as { error?: { message?: string; code?: string } }).error;
    if (e?.message) return e.message;
    if (e?.code) return e.code;
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong";
}
