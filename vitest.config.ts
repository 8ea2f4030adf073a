import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";

/** Every core: the files of the parallel group compete for CPU only, never for a time budget. */
const CORES = Math.max(2, availableParallelism());

/**
 * Reliability files bound to time or concurrency (kills at chosen moments, leases, deadlines, slot
 * quotas, throughput floors, the chaos run's stalls): they get the machine to themselves.
 */
const TIMING_BOUND = [
  "test/reliability/crash.test.ts",
  "test/reliability/horizon.test.ts",
  "test/reliability/lambda-ends.test.ts",
  "test/reliability/lying-hub.test.ts",
  "test/reliability/quota.test.ts",
  "test/reliability/resume.test.ts",
  "test/reliability/slot-kill.test.ts",
  "test/chaos/**/*.test.ts",
];

/**
 * `npm test` runs four projects in three groups (docs/development.md):
 * - group 0, files in parallel on every core: unit (packages/ * /test) and stacks (test/stacks, test/iam;
 *   each stage synthesized once per file);
 * - group 1, files in parallel on every core: e2e (test/e2e, and the test/reliability files not bound to
 *   time: local runs, reading the synthesis the global setup made once per run). A local run keeps
 *   one core busy, so on 2 cores two at a time each get one; beside the unit files under heavy load
 *   they timed out (measured at load ~19), hence a group of their own;
 * - group 2, one file at a time: reliability (TIMING_BOUND), whose runs are bound to time or
 *   concurrency and get the machine to themselves.
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
          include: ["test/e2e/**/*.test.ts", "test/reliability/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...TIMING_BOUND],
          globalSetup: ["./test/setup/shared-synthesis.ts"],
          setupFiles: ["./test/setup/synthesis.ts"],
          sequence: { groupOrder: 1 },
          maxWorkers: CORES,
        },
      },
      {
        extends: true,
        test: {
          name: "reliability",
          include: TIMING_BOUND,
          globalSetup: ["./test/setup/shared-synthesis.ts"],
          setupFiles: ["./test/setup/synthesis.ts"],
          sequence: { groupOrder: 2 },
          maxWorkers: 1,
        },
      },
    ],
  },
});
