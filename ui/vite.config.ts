/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The app runs inside Tauri's webview under a strict CSP (no inline scripts or styles),
// so everything is emitted as files and referenced with relative paths.
export default defineConfig({
  base: "./",
  plugins: [svelte()],
  // Component tests mount Svelte in jsdom: resolve Svelte's browser build there.
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: ["es2022", "chrome105", "safari15"],
    // Never inline assets as data: URIs (fonts would break under CSP) and keep CSS in files.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
