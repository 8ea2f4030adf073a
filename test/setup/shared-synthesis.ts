import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

/**
 * Global setup of the projects whose tests run the local workflow (e2e, reliability): one child
 * process synthesizes it at the start of the run, while the unit and stack tests go on, and every
 * test file of those projects then reads it (test/setup/synthesis.ts) instead of importing SST and
 * the CDK and synthesizing again. Each project runs this setup; the first one starts the child, the
 * last teardown removes the file.
 */
declare module "vitest" {
  interface ProvidedContext {
    /** The synthesized local workflow, in the local runner's cache format; may not exist yet. */
    sharedSynthesis: string;
  }
}

interface Shared {
  file: string;
  users: number;
  stop(): void;
}

const state = globalThis as { hlsSharedSynthesis?: Shared };

function start(): Shared {
  const dir = mkdtempSync(join(tmpdir(), "hls-s2-synthesis-"));
  const file = join(dir, "synthesized-workflow.json");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "synthesize-workflow.ts"), file],
    { cwd: join(import.meta.dirname, "../.."), stdio: ["ignore", "ignore", "inherit"] },
  );
  return {
    file,
    users: 0,
    stop: () => {
      if (child.exitCode === null) child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export default function setup(project: TestProject): () => void {
  state.hlsSharedSynthesis ??= start();
  const shared = state.hlsSharedSynthesis;
  shared.users += 1;
  project.provide("sharedSynthesis", shared.file);
  return () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    shared.stop();
    state.hlsSharedSynthesis = undefined;
  };
}
