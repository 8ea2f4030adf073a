/**
 * Child process of the shared-synthesis global setup: synthesizes the local workflow once and writes
 * it to the file named on the command line (the local runner's own cache format and key).
 */
import { writeFile } from "node:fs/promises";
import { loadSynthesizedWorkflow } from "@hls-s2/local";

const file = process.argv[2];
if (file === undefined) throw new TypeError("usage: synthesize-workflow.ts <cache file>");
try {
  await loadSynthesizedWorkflow({ cacheFile: file });
} catch (error) {
  // The test files stop waiting and synthesize for themselves.
  await writeFile(`${file}.failed`, String(error));
  throw error;
}
