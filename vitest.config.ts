import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // test/scale/ runs with `npm run test:scale` (vitest.scale.config.ts): minutes, not seconds.
    exclude: ["**/node_modules/**", "test/scale/**"],
    setupFiles: ["./test/setup/polyfills.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Loopback servers and SDK clients are per test file. Vitest runs availableParallelism − 1 files at
    // a time, so one at a time on these 2-core machines: the timing-bound tests (crash, slot kill,
    // resume) get the machine they were measured on.
    pool: "forks",
  },
});
