import { defineConfig } from "vite";

// The engine serves `dist/` itself; in development Vite proxies the API and the NOC socket
// to a running engine (CENTINELA_URL, default the engine's default listen address).
const engine = process.env.CENTINELA_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 300 },
  server: {
    proxy: {
      "/api": engine,
      "/ws": { target: engine.replace(/^http/, "ws"), ws: true },
    },
  },
  test: { include: ["test/unit/**/*.test.ts"], environment: "node" },
});
