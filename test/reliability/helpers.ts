import { copyFile, mkdir, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FaultPlan, GranuleStats, MockHub } from "@hls-s2/mock-hub";
import { inject } from "vitest";

export const MIB = 1024 * 1024;
export const KIB = 1024;

/** The fault mix: fractions of granules hit by each kind, drawn from a seed. */
export const FAULT_MIX = {
  http5xx: 0.1,
  throttle429: 0.05,
  resetAfterBytes: 0.05,
  corruptOnce: 0.02,
  corruptAlways: 0.01,
  gone: 0.01,
  checksumLate: 0.01,
} as const;

/** A seeded plan of the mix; Retry-After 1 s, each transient fault hits once. */
export function faultMixPlan(seed: string): FaultPlan {
  return { seed, rates: { ...FAULT_MIX }, defaults: { retryAfterSeconds: 1, times: 1 } };
}

/** Sums a counter of the mock hub's per-granule stats over some granules. */
export function sumStats(hub: MockHub, ids: readonly string[], field: keyof GranuleStats): number {
  return ids.reduce((sum, id) => sum + hub.stats.granule(id)[field], 0);
}

/**
 * The local runner caches the synthesized state machine per data folder (synthesis costs ~15 s);
 * sharing that file between this suite's fresh folders keeps the suite fast. Under `npm test` the
 * file is the one the global setup synthesized for the run (test/setup/shared-synthesis.ts). The
 * runner checks the cache's key against the stacks' sources, so a stale copy is never used.
 */
const SYNTH_CACHE_NAME = "synthesized-workflow.json";
const sharedSynthCache = (): string =>
  injectedSynthesis() ?? join(tmpdir(), `hls-s2-reliability-${process.getuid?.() ?? 0}-${SYNTH_CACHE_NAME}`);

/** The run's synthesis under vitest; `inject` throws outside it (`npm run chaos`, `npm run reliability`). */
function injectedSynthesis(): string | undefined {
  try {
    return inject("sharedSynthesis");
  } catch {
    return undefined;
  }
}

export async function useSharedSynthesis(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await copyFile(sharedSynthCache(), join(dataDir, SYNTH_CACHE_NAME)).catch(() => undefined);
}

export async function shareSynthesis(dataDir: string): Promise<void> {
  // Write then rename, so a parallel test file never reads half a file.
  const shared = sharedSynthCache();
  const partial = `${shared}.${process.pid}`;
  await copyFile(join(dataDir, SYNTH_CACHE_NAME), partial)
    .then(() => rename(partial, shared))
    .catch(() => undefined);
}
