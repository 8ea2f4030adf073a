import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/** Every core: the files of the parallel group compete for CPU only, never for a time budget. */
const CORES = Math.max(2, availableParallelism());

/**
 * `npm test` runs four projects in two groups (docs/development.md):
 * - group 0, files in parallel on every core: unit (packages/ * /test), stacks (test/stacks, test/iam:
 *   one worker process runs many files, so SST and the CDK are imported once per worker, not per file)
 *   and e2e (local runs; they read the synthesis the global setup made once per run);
 * - group 1, one file at a time once group 0 is done: reliability (test/reliability, test/chaos), whose
 *   crash, slot-kill, resume, quota and fault runs are bound to time or concurrency and get the machine
 *   to themselves.
 * The long scale run keeps its own config (vitest.scale.config.ts, `npm run test:scale`).
 */
export default defineConfig({
  test: {
    setupFiles: ["./test/setup/polyfills.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Loopback servers and SDK clients are per test file, each file in its own process.
    pool: "forks",
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["packages/*/test/**/*.test.ts"], maxWorkers: CORES },
      },
      {
        extends: true,
        test: {
          name: "stacks",
          include: ["test/stacks/**/*.test.ts", "test/iam/**/*.test.ts"],
          // Files share their worker's module cache: SST/CDK imported, and each stage synthesized
          // (test/stacks/synthesized.ts), once per worker. These tests restore the cwd and environment
          // they change, and mock nothing by module.
          isolate: false,
          maxWorkers: CORES,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["./test/setup/shared-synthesis.ts"],
          setupFiles: ["./test/setup/synthesis.ts"],
          maxWorkers: CORES,
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts", "test/chaos/**/*.test.ts"],
          globalSetup: ["./test/setup/shared-synthesis.ts"],
          setupFiles: ["./test/setup/synthesis.ts"],
          sequence: { groupOrder: 1 },
          maxWorkers: 1,
        },
      },
    ],
  },
});
