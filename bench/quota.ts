/**
 * The hub quota's cost: the same granules through three overlapping executions (a day, a backfill of
 * it, a download-only run) sharing N hub slots, against one execution with MaxConcurrency N, side by
 * side on one machine, against a mock hub that allows N downloads (429 beyond) at a fixed rate per
 * connection. And the slot round trip (take + free) on the embedded table, per granule.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDocumentClient, SlotPool } from "@hls-s2/core/store";
import {
  type LocalRunSummary,
  loadSynthesizedWorkflow,
  type RunLocalOptions,
  runLocal,
  runLocalOverlapping,
  startEmbeddedStores,
} from "@hls-s2/local";
import type { MockHub } from "@hls-s2/mock-hub";
import { MiB, median, type Row } from "./lib";

export const QUOTA_GOAL_RATIO = 1.1;
const DAY = "2026-03-20";

export interface QuotaResult {
  slots: number;
  granules: number;
  sizeBytes: number;
  bytesPerSecond: number;
  /** Wall seconds of each repetition. */
  oneExecution: number[];
  threeOverlapping: number[];
  /** 429s the hub answered, and the most downloads it saw at once, in the overlapping runs. */
  refused: number;
  peak: number;
  ratio: number;
  slotRoundTripMs: number;
}

async function timed(
  run: (dataDir: string, onMockHub: (hub: MockHub) => void) => Promise<LocalRunSummary[]>,
): Promise<{ seconds: number; hub: MockHub; summaries: LocalRunSummary[] }> {
  const dataDir = await mkdtemp(join(tmpdir(), "hls-s2-bench-quota-"));
  try {
    let hub: MockHub | undefined;
    const started = process.hrtime.bigint();
    const summaries = await run(dataDir, (mock) => {
      hub = mock;
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const downloaded = summaries.at(-1)!.totals.downloaded;
    if (downloaded !== summaries.at(-1)!.totals.found) throw new Error(`only ${downloaded} downloaded`);
    return { seconds, hub: hub!, summaries };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function benchQuota(options: {
  slots?: number;
  granules?: number;
  reps?: number;
  log?: (line: string) => void;
}): Promise<QuotaResult> {
  const slots = options.slots ?? 4;
  const granules = options.granules ?? 24;
  const reps = options.reps ?? 2;
  const sizeBytes = 4 * MiB;
  const bytesPerSecond = 4 * MiB;
  await loadSynthesizedWorkflow();
  const base = (dataDir: string, onMockHub: (hub: MockHub) => void): RunLocalOptions => ({
    dataDir,
    from: DAY,
    to: DAY,
    seed: "bench-quota",
    granulesPerDay: granules,
    productSize: sizeBytes,
    allTiles: true,
    // The slot wait, scaled: a stage waits 5–60 s (jittered) for ~30 s downloads, here 0.3 s for ~1 s
    // ones. Shorter waits measure the local engine's cost of polling (each wait is a failed attempt).
    retryDelayMs: 300,
    mockMaxDownloads: slots,
    mockBandwidthBytesPerSecond: bytesPerSecond,
    onMockHub,
  });
  const oneExecution: number[] = [];
  const threeOverlapping: number[] = [];
  let refused = 0;
  let peak = 0;
  for (let rep = 0; rep < reps; rep++) {
    // MaxConcurrency N alone, no quota in the way (100 slots).
    const one = await timed(async (dataDir, onMockHub) => [
      await runLocal({ ...base(dataDir, onMockHub), concurrency: slots, hubSlots: 100 }),
    ]);
    oneExecution.push(one.seconds);
    // Three executions of MaxConcurrency 15 each, held to N by the slots.
    const three = await timed((dataDir, onMockHub) =>
      runLocalOverlapping({ ...base(dataDir, onMockHub), concurrency: 15, hubSlots: slots }, [
        {},
        {},
        { downloadOnly: true, delayMs: 500 },
      ]),
    );
    threeOverlapping.push(three.seconds);
    const downloads = three.hub.stats.downloads.snapshot();
    refused += downloads.refused;
    peak = Math.max(peak, downloads.peak);
    options.log?.(
      `rep ${rep + 1}: one ${one.seconds.toFixed(2)} s, three overlapping ${three.seconds.toFixed(2)} s`,
    );
  }
  const slotRoundTripMs = await slotRoundTrip(slots);
  return {
    slots,
    granules,
    sizeBytes,
    bytesPerSecond,
    oneExecution,
    threeOverlapping,
    refused,
    peak,
    ratio: median(threeOverlapping) / median(oneExecution),
    slotRoundTripMs,
  };
}

/** Take and free a slot, 200 times, on the embedded table: what each download adds for the quota. */
async function slotRoundTrip(slots: number): Promise<number> {
  const stores = await startEmbeddedStores();
  try {
    const pool = new SlotPool(createDocumentClient(stores.dynamo), {
      tableName: stores.tableName,
      defaultSlots: slots,
    });
    const rounds = 200;
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await pool.release(await pool.acquire(`bench-${i}`));
    return Number(process.hrtime.bigint() - started) / 1e6 / rounds;
  } finally {
    await stores.close();
  }
}

export function quotaRows(result: QuotaResult): Row[] {
  const what = `${result.granules} × ${result.sizeBytes / MiB} MiB at ${result.bytesPerSecond / MiB} MiB/s, N = ${result.slots}`;
  return [
    {
      benchmark: "quota",
      case: what,
      metric: "3 overlapping (slots N) / 1 (MaxConcurrency N)",
      value: `${median(result.threeOverlapping).toFixed(2)} s / ${median(result.oneExecution).toFixed(2)} s = ${result.ratio.toFixed(2)}`,
      goal: `≤ ${QUOTA_GOAL_RATIO.toFixed(2)}`,
      met: result.ratio <= QUOTA_GOAL_RATIO,
    },
    {
      benchmark: "quota",
      case: what,
      metric: "hub: peak downloads, 429s (overlapping)",
      value: `${result.peak}, ${result.refused}`,
      goal: `≤ ${result.slots}, 0`,
      met: result.peak <= result.slots && result.refused === 0,
    },
    {
      benchmark: "quota",
      case: "embedded table",
      metric: "slot round trip per granule",
      value: `${result.slotRoundTripMs.toFixed(2)} ms`,
    },
  ];
}
