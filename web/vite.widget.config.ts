/// The web chat widget's bundle (web/widget/ → dist/widget/widget.js): one self-contained script
/// with no framework, built apart from the panel. The build prints its gzipped size and fails over
/// the budget: it loads on every page of a business's site.
import { gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

const BUDGET_KB = 25;

function sizeBudget(): Plugin {
  return {
    name: "widget-size-budget",
    apply: "build",
    generateBundle(_options, bundle) {
      for (const item of Object.values(bundle)) {
        if (item.type !== "chunk") continue;
        const raw = Buffer.from(item.code).length / 1024;
        const gz = gzipSync(Buffer.from(item.code), { level: 9 }).length / 1024;
        console.log(`\nwidget: ${item.fileName} ${raw.toFixed(1)} KB, gzipped ${gz.toFixed(1)} KB (budget ${BUDGET_KB} KB)\n`);
        if (gz > BUDGET_KB) this.error(`the widget is ${gz.toFixed(1)} KB gzipped, over the budget`);
      }
    },
  };
}

export default defineConfig({
  plugins: [sizeBudget()],
  publicDir: false,
  build: {
    target: "es2020",
    outDir: "dist/widget",
    emptyOutDir: true,
    sourcemap: false,
    lib: { entry: "widget/main.ts", formats: ["iife"], name: "TertuliaWidgetBundle", fileName: () => "widget.js" },
  },
});
