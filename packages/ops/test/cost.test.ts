import { DEFAULT_HUB_DOWNLOAD_SLOTS } from "@hls-s2/core/store";
import { describe, expect, it } from "vitest";
import { measureLocalRun, stackFigures } from "../src/cost/measure";
import {
  type CostEstimate,
  compareCosts,
  estimateMonthlyCost,
  formatComparison,
  type RunCounts,
  type StackFigures,
} from "../src/cost/model";
import { PRICES } from "../src/cost/prices";
import { estimateReferenceCost } from "../src/cost/reference";

const MIB = 1024 * 1024;

function aStack(overrides: Partial<StackFigures> = {}): StackFigures {
  return {
    memoryMb: { GenerateQueries: 512, FetchPage: 512, WriteManifest: 1024, Download: 1024, Summarize: 512 },
    partSizeBytes: 16 * MIB,
    executionsPerDay: 1,
    alarms: 4,
    dashboards: 1,
    ...overrides,
  };
}

function aRun(overrides: Partial<RunCounts> = {}): RunCounts {
  return {
    granules: 10,
    invocations: { GenerateQueries: 1, FetchPage: 2, WriteManifest: 1, Download: 12, Summarize: 1 },
    otherStatesPerGranule: 0,
    otherStatesPerExecution: 6,
    granuleDynamoReads: 10,
    granuleDynamoWrites: 50,
    granuleS3Requests: 20,
    executionDynamoReads: 8,
    executionDynamoWrites: 0,
    executionS3Requests: 3,
    ...overrides,
  };
}

const line = (estimate: CostEstimate, service: string, item: string) =>
  estimate.lines.find((entry) => entry.service === service && entry.item.startsWith(item));

describe("estimateMonthlyCost", () => {
  const volume = { granulesPerDay: 1000, meanSizeBytes: 600e6, hubBytesPerSecond: 20e6, days: 30 };

  it("prices the measured transitions, Download's hub-bound GB-seconds and the parts at the stack's part size", () => {
    const estimate = estimateMonthlyCost(aStack(), aRun(), volume);

    // 12 Download + 2 FetchPage invocations over 10 granules; 3 small tasks and 6 other states per execution.
    expect(estimate.perGranule.stateTransitions).toBeCloseTo(1.4, 10);
    expect(line(estimate, "Step Functions", "state transitions")?.quantity).toBeCloseTo(
      30_000 * 1.4 + 30 * 9,
      6,
    );
    // 600 MB at 20 MB/s = 30 s at 1 GB.
    expect(line(estimate, "Lambda", "Download GB-seconds")?.usd).toBeCloseTo(
      30_000 * 30 * PRICES.lambda.perArmGbSecond,
      6,
    );
    expect(estimate.perGranule.uploadParts).toBe(Math.ceil(600e6 / (16 * MIB)));
    expect(estimate.totalUsd).toBeCloseTo(
      estimate.lines.reduce((sum, entry) => sum + entry.usd, 0),
      10,
    );
  });

  it("follows the stack's settings: Download memory and part size move their lines", () => {
    const base = estimateMonthlyCost(aStack(), aRun(), volume);
    const bigger = estimateMonthlyCost(
      aStack({ memoryMb: { ...aStack().memoryMb, Download: 2048 }, partSizeBytes: 8 * MIB }),
      aRun(),
      volume,
    );

    expect(line(bigger, "Lambda", "Download GB-seconds")!.usd).toBeCloseTo(
      2 * line(base, "Lambda", "Download GB-seconds")!.usd,
      6,
    );
    expect(line(bigger, "S3", "requests")!.quantity).toBeGreaterThan(line(base, "S3", "requests")!.quantity);
  });

  it("prices a product that fits in one part as one PutObject, a larger one as Create, its parts and Complete", () => {
    const measured = aRun({ granuleS3Requests: 0, executionS3Requests: 0 });
    const requests = (meanSizeBytes: number) =>
      line(estimateMonthlyCost(aStack(), measured, { ...volume, meanSizeBytes }), "S3", "requests")!.quantity;

    expect(requests(16 * MIB)).toBe(30_000);
    expect(requests(600e6)).toBe(30_000 * (Math.ceil(600e6 / (16 * MIB)) + 2));
  });
});

describe("estimateReferenceCost", () => {
  const volume = { granulesPerDay: 13_000, meanSizeBytes: 600e6, hubBytesPerSecond: 20e6, days: 30 };

  it("prices the reference system's own stack: two db.t3.medium with Extended Support year 3 on their 4 vCPUs", () => {
    const estimate = estimateReferenceCost(volume);

    expect(line(estimate, "Aurora PostgreSQL 11", "2 × db.t3.medium")?.quantity).toBe(2 * 720);
    expect(line(estimate, "Aurora PostgreSQL 11", "RDS Extended Support year 3")?.usd).toBeCloseTo(
      2 * 2 * 720 * 0.2,
      6,
    );
  });

  it("holds the 1,200 MB downloader for the hub-bound download and then the PUT of the whole product", () => {
    const downloader = line(estimateReferenceCost(volume), "Lambda", "downloader GB-seconds")!;

    // 30 s at 20 MB/s, then 6 s of PUT at the assumed 100 MB/s, at 1,200 MB.
    expect(downloader.quantity).toBeCloseTo(390_000 * 36 * (1200 / 1024), 3);
    expect(downloader.usd).toBeCloseTo(downloader.quantity * PRICES.reference.perX86GbSecond, 6);
  });
});

describe("compareCosts", () => {
  it("gives each design's total per TB mirrored and per granule, and the ratio of the first to the second", () => {
    const volume = { granulesPerDay: 1000, meanSizeBytes: 500e6, days: 30 };
    const estimate = (totalUsd: number): CostEstimate => ({
      lines: [],
      totalUsd,
      perGranule: { stateTransitions: 0, downloadSeconds: 0, uploadParts: 0 },
    });

    const comparison = compareCosts(
      [
        { name: "ours", estimate: estimate(30) },
        { name: "theirs", estimate: estimate(120) },
      ],
      volume,
    );

    // 30,000 granules of 500 MB: 15 TB.
    expect(comparison.terabytesPerMonth).toBeCloseTo(15, 10);
    expect(comparison.designs[0]).toMatchObject({ totalUsd: 30, perTerabyteUsd: 2, perGranuleUsd: 0.001 });
    expect(formatComparison(comparison)).toContain("| total per month | $30.00 | $120.00 | 0.250 |");
  });
});

describe("the deployed defaults", () => {
  it("cost at most $150 a month ($0.0004 a granule) at 13,000 granules of 600 MB a day", {
    timeout: 60_000,
  }, async () => {
    const prod = await stackFigures("prod");
    // Per-granule counts of a measured local run (npm run cost): ~10 writes, ~31 reads, Create + Complete.
    const run = aRun({ granuleDynamoWrites: 105, granuleDynamoReads: 313, granuleS3Requests: 20 });
    const volume = { granulesPerDay: 13_000, meanSizeBytes: 600e6, hubBytesPerSecond: 20e6, days: 30 };

    const estimate = estimateMonthlyCost(prod, run, volume);

    expect(prod.memoryMb["Download"]).toBe(512);
    expect(prod.partSizeBytes).toBe(64 * MIB);
    expect(estimate.perGranule.uploadParts).toBe(9);
    expect(estimate.totalUsd).toBeLessThanOrEqual(150);
    expect(estimate.totalUsd / 390_000).toBeLessThanOrEqual(0.0004);
  });
});

describe("measureLocalRun", () => {
  it("counts what a local run did, so a run with retries costs more state transitions", {
    timeout: 90_000,
  }, async () => {
    const clean = await measureLocalRun({ granules: 6, productSize: 256 * 1024 });
    // Every granule's checksum is "not yet published" on the first ask: each Download is retried once.
    const retried = await measureLocalRun({
      granules: 6,
      productSize: 256 * 1024,
      faults: { rates: { checksumLate: 1 }, defaults: { checksumLateRequests: 1 } },
    });

    expect(clean.granules).toBe(6);
    expect(clean.invocations["Download"]).toBe(6);
    expect(retried.granules).toBe(6);
    expect(retried.invocations["Download"]).toBeGreaterThan(6);
    expect(clean.granuleDynamoWrites).toBeGreaterThan(0);
    // Each Download's slot gauge reads every slot of the quota (15 by default): one read per key.
    expect(clean.granuleDynamoReads).toBeGreaterThanOrEqual(6 * DEFAULT_HUB_DOWNLOAD_SLOTS);
    const volume = { granulesPerDay: 13_000, meanSizeBytes: 600e6 };
    const transitions = (run: RunCounts) =>
      line(estimateMonthlyCost(aStack(), run, volume), "Step Functions", "state transitions")!.usd;
    expect(transitions(retried)).toBeGreaterThan(transitions(clean));
  });
});
