import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Every core: the files of the parallel group compete for CPU only, never for a time budget. */
const CORES = Math.max(2, availableParallelism());

/**
 * Reliability files bound to time or concurrency (kills at chosen moments, leases, deadlines, slot
 * quotas, throughput floors): they get the machine to themselves.
 */
const TIMING_BOUND = [
  "test/reliability/crash.test.ts",
  "test/reliability/horizon.test.ts",
  "test/reliability/lambda-ends.test.ts",
  "test/reliability/lying-hub.test.ts",
  "test/reliability/quota.test.ts",
  "test/reliability/slot-kill.test.ts",
];

/**
 * The chaos run's short form: one core busy for ~80 s, its faults placed by invocation and by stall,
 * not by the clock (it held its invariants at load ~20). It runs in group 1 beside the e2e files, not
 * alone in group 2: vitest gives the projects of one group one pool width.
 */
const CHAOS = ["test/chaos/**/*.test.ts"];

/** Group 1's longest files (~80 and ~50 s), started first so the others fill the other core around them. */
const LONGEST_FIRST = ["test/chaos/chaos-short.test.ts", "test/e2e/live-day.test.ts"];

/** vitest's order (by group, then by the cached durations of earlier runs), LONGEST_FIRST first in a group. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = LONGEST_FIRST.findIndex((path) => file.moduleId.endsWith(path));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    const sorted = await super.sort(files);
    const group = (file: TestSpecification) => file.project.config.sequence.groupOrder;
    return sorted
      .map((file, position) => ({ file, position }))
      .sort((a, b) => group(a.file) - group(b.file) || rank(a.file) - rank(b.file) || a.position - b.position)
      .map(({ file }) => file);
  }
}

/**
 * Unit files that run the local workflow in-process: the runner sets POWERTOOLS_LOG_LEVEL and SST
 * sets SST_STAGE for the rest of the process, and the functions' logger, made once, keeps that level;
 * in a shared worker a later file's log assertions failed so. One process each.
 */
const UNIT_ALONE = ["packages/ops/test/cost.test.ts"];

/** Stack tests that change process-wide state (SST's project, cwd, env): one process each. */
const SST_GLOBAL_STATE = ["test/stacks/sst-build.test.ts", "test/stacks/tile-settings.test.ts"];

/**
 * `npm test` runs six projects in three groups (docs/development.md):
 * - group 0, files in parallel on every core: unit (packages/ * /test, sharing workers), unit-alone
 *   (UNIT_ALONE), stacks (test/stacks, test/iam; sharing workers, so SST is imported and each stage
 *   synthesized once per worker) and stacks-alone (SST_GLOBAL_STATE);
 * - group 1, files in parallel on every core: e2e (test/e2e, the test/reliability files not bound to
 *   time and the chaos short form: local runs, reading the synthesis the global setup made once per
 *   run; the longest first, LONGEST_FIRST). A local run keeps
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
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...UNIT_ALONE],
          // Files share a worker's module cache: the AWS SDK, the local runtime and the test helpers
          // are imported once per worker, not once per file (import was ~60% of this project's CPU).
          // What a file changes process-wide is put back after it (test/setup/shared-worker.ts).
          isolate: false,
          setupFiles: ["./test/setup/shared-worker.ts"],
          maxWorkers: CORES,
        },
      },
      { extends: true, test: { name: "unit-alone", include: UNIT_ALONE, maxWorkers: CORES } },
      {
        extends: true,
        test: {
          name: "stacks",
          include: ["test/stacks/**/*.test.ts", "test/iam/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...SST_GLOBAL_STATE],
          // Files share a worker's module cache: SST and the CDK are imported (4.6 s of CPU) and each
          // stage synthesized (test/stacks/synthesized.ts, frozen) once per worker, not once per file.
          // Measured, the project alone at load ~20: 177 CPU-s one process per file, 69 shared.
          isolate: false,
          maxWorkers: CORES,
        },
      },
      {
        extends: true,
        // Their own process each: they change SST's global project, the cwd, process.env or SDK
        // prototypes, which a shared worker would hand to the next file (environments.test.ts's
        // push-stage test failed so in a full run, when every stack file shared workers).
        test: { name: "stacks-alone", include: SST_GLOBAL_STATE, maxWorkers: CORES },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "test/reliability/**/*.test.ts", ...CHAOS],
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
