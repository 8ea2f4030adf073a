import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // test/scale/ runs with `npm run test:scale` (vitest.scale.config.ts): minutes, not seconds.
    exclude: ["**/node_modules/**", "test/scale/**"],
    setupFiles: ["./test/setup/polyfills.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Loopback servers and SDK clients are per test file; files run in parallel across 2 cores.
    pool: "forks",
  },
});
