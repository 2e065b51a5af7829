/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API runs on `tertulia serve` (127.0.0.1:8000, or TERTULIA_DEV_BACKEND); in development Vite
// proxies every server path to it, the event socket included, so cookies behave as in production.
const backend = process.env.TERTULIA_DEV_BACKEND ?? "http://127.0.0.1:8000";
const proxied = ["/api", "/admin", "/media", "/healthz"];

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      ...Object.fromEntries(proxied.map((p) => [p, { target: backend, changeOrigin: false }])),
      "/ws": { target: backend, ws: true, changeOrigin: false },
    },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 400,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
