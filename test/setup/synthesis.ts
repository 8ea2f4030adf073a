import { access } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { loadSynthesizedWorkflow } from "@hls-s2/local";
import { inject } from "vitest";

/**
 * Setup file of the e2e and reliability projects: loads the workflow the global setup synthesized
 * (test/setup/shared-synthesis.ts) as this process's synthesis, so runLocal and the files' own
 * loadSynthesizedWorkflow() find it in memory. The runner checks its key against the stacks' and
 * core's sources, so a stale file is never used; if the child failed or is late, this file
 * synthesizes for itself, as it would without the setup.
 */
const file = inject("sharedSynthesis");
const WAIT_MS = 240_000;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

if (file !== undefined) {
  const deadline = Date.now() + WAIT_MS;
  while (!(await exists(file)) && !(await exists(`${file}.failed`)) && Date.now() < deadline) {
    await sleep(250);
  }
  if (await exists(file)) await loadSynthesizedWorkflow({ cacheFile: file });
}
