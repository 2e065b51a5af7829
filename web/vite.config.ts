/// <reference types="vitest/config" />
import { gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

// The API runs on `tertulia serve` (127.0.0.1:8000, or TERTULIA_DEV_BACKEND); in development Vite
// proxies every server path to it, the event socket included, so cookies behave as in production.
const backend = process.env.TERTULIA_DEV_BACKEND ?? "http://127.0.0.1:8000";
const proxied = ["/api", "/admin", "/media", "/healthz"];
const FIRST_LOAD_BUDGET_KB = 300;

/** Prints what a first visit downloads (the HTML, the entry chunk and what it imports statically,
 * their CSS), gzipped, and fails the build over the budget; lazily loaded screens are not in it. */
function firstLoadBudget(): Plugin {
  return {
    name: "first-load-budget",
    apply: "build",
    enforce: "post", // after the HTML is emitted
    generateBundle(_options, bundle) {
      const files = new Set<string>();
      const visit = (name: string) => {
        const item = bundle[name];
        if (!item || files.has(name)) return;
        files.add(name);
        if (item.type === "chunk") {
          item.imports.forEach(visit);
          item.viteMetadata?.importedCss.forEach((css) => files.add(css));
        }
      };
      for (const item of Object.values(bundle)) if (item.type === "chunk" && item.isEntry) visit(item.fileName);
      for (const item of Object.values(bundle)) if (item.fileName.endsWith(".html")) files.add(item.fileName);
      let total = 0;
      const lines = [...files].sort().map((name) => {
        const item = bundle[name];
        const raw = item.type === "chunk" ? item.code : item.source;
        const size = gzipSync(typeof raw === "string" ? Buffer.from(raw) : Buffer.from(raw)).length / 1024;
        total += size;
        return `  ${name.padEnd(44)} ${size.toFixed(1).padStart(7)} KB`;
      });
      console.log(`\nfirst load, gzipped (lazily loaded screens excluded):\n${lines.join("\n")}\n` +
        `  ${"total".padEnd(44)} ${total.toFixed(1).padStart(7)} KB (budget ${FIRST_LOAD_BUDGET_KB} KB)\n`);
      if (total > FIRST_LOAD_BUDGET_KB) this.error(`the first load is ${total.toFixed(1)} KB gzipped, over the budget`);
    },
  };
}

export default defineConfig({
  plugins: [react(), firstLoadBudget()],
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
