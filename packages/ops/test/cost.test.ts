import { DEFAULT_HUB_DOWNLOAD_SLOTS } from "@hls-s2/core";
import { describe, expect, it } from "vitest";
import { measureLocalRun } from "../src/cost/measure";
import { type CostEstimate, estimateMonthlyCost, type RunCounts, type StackFigures } from "../src/cost/model";
import { PRICES } from "../src/cost/prices";

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
