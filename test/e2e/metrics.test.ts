import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  METRIC_DIMENSIONS,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricName,
} from "@hls-s2/core/domain";
import { loadSynthesizedWorkflow, runLocal } from "@hls-s2/local";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

// The local runner silences Powertools only when the caller has not chosen (`??=`): this file turns
// metrics on before any handler module is imported, so the EMF lines a Lambda would print reach stdout.
process.env["POWERTOOLS_METRICS_DISABLED"] = "false";

const DAY = "2026-03-14";
const GRANULES = 5;
/** Fewer hub slots than the Map Run's 3 at once, so the run waits for them too. */
const SLOTS = 2;
let dataDir: string;

interface EmfLine {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

beforeAll(async () => {
  await loadSynthesizedWorkflow();
  dataDir = await mkdtemp(join(tmpdir(), "hls-s2-metrics-"));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs `work` and returns the EMF documents printed to stdout meanwhile (other output passes through). */
async function captureEmf(work: () => Promise<unknown>): Promise<EmfLine[]> {
  const lines: EmfLine[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, "write").mockImplementation(((
    chunk: string | Uint8Array,
    ...rest: never[]
  ) => {
    for (const line of String(chunk).split("\n")) {
      if (!line.startsWith('{"_aws"')) continue;
      lines.push(JSON.parse(line) as EmfLine);
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write);
  try {
    await work();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

/** Every value of one metric across the captured lines (Powertools aggregates a name's values into an array). */
function valuesOf(lines: EmfLine[], name: MetricName): number[] {
  return lines.flatMap((line) => {
    const value = line[name];
    if (value === undefined) return [];
    return Array.isArray(value) ? (value as number[]) : [value as number];
  });
}

describe("a local run's metrics", () => {
  it("prints per-granule EMF metrics with the documented names, units and dimensions", async () => {
    let summary: Awaited<ReturnType<typeof runLocal>> | undefined;
    const lines = await captureEmf(async () => {
      summary = await runLocal({
        dataDir,
        dynamo: "dynalite",
        from: DAY,
        to: DAY,
        seed: "metrics-emf",
        granulesPerDay: GRANULES,
        productSize: 256 * 1024,
        concurrency: 3,
        retryDelayMs: 10,
        allTiles: true,
        hubSlots: SLOTS,
      });
    });

    expect(lines.length).toBeGreaterThan(0);
    const stageDimensions = [METRIC_DIMENSIONS.service, METRIC_DIMENSIONS.stage, METRIC_DIMENSIONS.hubKind];
    for (const line of lines) {
      const [directive] = line._aws.CloudWatchMetrics;
      expect(directive!.Namespace).toBe(METRICS_NAMESPACE);
      expect(line).toMatchObject({ service: METRICS_SERVICE, stage: "local", hubKind: "dhus" });
      for (const metric of directive!.Metrics) {
        // Every name printed is one the constant declares, with the constant's unit.
        expect(Object.keys(METRICS)).toContain(metric.Name);
        expect(metric.Unit).toBe(METRICS[metric.Name as MetricName].unit);
        const expected =
          "byErrorName" in METRICS[metric.Name as MetricName]
            ? [...stageDimensions, METRIC_DIMENSIONS.errorName]
            : stageDimensions;
        expect(directive!.Dimensions.map((set) => [...set].sort())).toEqual([[...expected].sort()]);
      }
    }
    // One value per granule of each per-granule figure.
    for (const name of [
      "GranuleBytes",
      "GranuleSeconds",
      "GranuleBytesResumed",
      "GranuleAttempts",
      "GranuleLatency",
    ] as const) {
      expect(valuesOf(lines, name), name).toHaveLength(GRANULES);
    }
    expect(valuesOf(lines, "GranuleBytes")).toEqual(Array(GRANULES).fill(256 * 1024));
    expect(valuesOf(lines, "GranuleAttempts")).toEqual(Array(GRANULES).fill(1));
    for (const latency of valuesOf(lines, "GranuleLatency")) expect(latency).toBeGreaterThanOrEqual(0);
    expect(valuesOf(lines, "DownloadFailed")).toEqual([]);
    // The quota's gauge: one reading per download that took a slot, its own slot included, never
    // beyond the quota in force, which reads as the run's --hub-slots.
    const inUse = valuesOf(lines, "HubSlotsInUse");
    expect(inUse.length).toBeGreaterThanOrEqual(GRANULES);
    for (const held of inUse) expect(held).toBeGreaterThanOrEqual(1);
    for (const held of inUse) expect(held).toBeLessThanOrEqual(SLOTS);
    expect(valuesOf(lines, "HubSlotQuota")).toEqual(Array(inUse.length).fill(SLOTS));
    // Each wait for a slot is a count of 1; the granules still all downloaded once (above).
    for (const wait of valuesOf(lines, "HubSlotWaits")) expect(wait).toBe(1);
    // The hub client counted its answers: searches, checksums and downloads, all 2xx here.
    expect(valuesOf(lines, "HubResponses2xx").reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(
      2 * GRANULES,
    );
    // The summary's latency is the table's view of the same granules: same count, same maximum.
    const [latency] = summary!.latency;
    expect(latency).toMatchObject({ day: DAY, count: GRANULES });
    expect(latency!.maxSeconds).toBeCloseTo(Math.max(...valuesOf(lines, "GranuleLatency")), -1);
    // Summarize still reports its counts of the window.
    expect(valuesOf(lines, "GranulesDownloaded")).toEqual([GRANULES]);
  });
});
