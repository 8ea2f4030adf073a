import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLiveDay } from "@hls-s2/local/live";
import { afterEach, describe, expect, it } from "vitest";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("a time-compressed live day of the continuous mode", () => {
  it("delivers every granule exactly once within minutes of its publication, with no 429 at a 4-download hub", async () => {
    // Prepare: a few simulated minutes of a 13,000-granule day at 12×, 95 % pushed, 4 hub downloads.
    const dataDir = await mkdtemp(join(tmpdir(), "hls-s2-live-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    // Act
    const summary = await runLiveDay({
      dataDir,
      granules: 13_000,
      dayShare: 30 / 13_000,
      speed: 12,
      pushShare: 0.95,
      lateShare: 0.05,
      pollMinutes: 5,
      hubDownloads: 4,
      sizeBytes: { min: 50_000, max: 800_000 },
      // 20 MB/s per connection at 12× for products 1,000 times smaller than real.
      bytesPerSecond: 240_000,
      drainMinutes: 60,
      seed: "live-e2e",
      // dynalite: starts in a moment, where DynamoDB Local's JVM takes seconds; the table is not the subject.
      dynamo: "dynalite",
    });

    // Assess
    expect(summary.granules).toBe(30);
    expect(summary).toMatchObject({ delivered: 30, objects: 30, downloadedOutcomes: 30, exactlyOnce: true });
    expect(summary.throttled).toBe(0);
    expect(summary.peakDownloads).toBeLessThanOrEqual(4);
    expect(summary.runs.failed).toBe(0);
    // The daily run alone would take hours; the continuous mode takes minutes of the simulated clock.
    expect(summary.latencyMinutes.p95).toBeLessThanOrEqual(20);
  }, 600_000);
});
