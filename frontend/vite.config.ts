/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a `helix serve` on :8080.
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      // Live updates accept only the server's own origin (its public URL).
      "/api": { target: "http://localhost:8080", ws: true, headers: { origin: "http://localhost:8080" } },
      "/v1": "http://localhost:8080",
    },
  },
  // Two pages: the app, and the stand-alone desktop viewer of `helix stream`.
  build: { outDir: "dist", sourcemap: true, rollupOptions: { input: { main: "index.html", viewer: "viewer.html" } } },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"], setupFiles: ["src/test/setup.ts"] },
});
