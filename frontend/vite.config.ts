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
  build: { outDir: "dist", sourcemap: true },
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"], setupFiles: ["src/test/setup.ts"] },
});
