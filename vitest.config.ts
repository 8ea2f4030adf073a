import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/** Every core: the files of the parallel group compete for CPU only, never for a time budget. */
const CORES = Math.max(2, availableParallelism());

/**
 * `npm test` runs four projects in three groups (docs/development.md):
 * - group 0, files in parallel on every core: unit (packages/ * /test) and stacks (test/stacks, test/iam;
 *   each stage synthesized once per file);
 * - group 1, one file at a time: e2e (local runs, reading the synthesis the global setup made once per
 *   run), whose 30 s test budget holds for one local run at a time on 2 cores, not for two beside the
 *   unit files (measured: every e2e file timed out so under load);
 * - group 2, one file at a time: reliability (test/reliability, test/chaos), whose crash, slot-kill,
 *   resume, quota and fault runs are bound to time or concurrency and get the machine to themselves.
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
          // Each file in its own module cache: with files sharing a worker's cache, one file's synthesis
          // left another's push-stage expectations failing in a full run (environments.test.ts).
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
          sequence: { groupOrder: 1 },
          maxWorkers: 1,
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          include: ["test/reliability/**/*.test.ts", "test/chaos/**/*.test.ts"],
          globalSetup: ["./test/setup/shared-synthesis.ts"],
          setupFiles: ["./test/setup/synthesis.ts"],
          sequence: { groupOrder: 2 },
          maxWorkers: 1,
        },
      },
    ],
  },
});
