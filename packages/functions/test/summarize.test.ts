import { afterEach, describe, expect, it, vi } from "vitest";
import { metrics } from "../src/lib/metrics";
import { configureRuntime } from "../src/lib/runtime";
import { handler } from "../src/summarize";
import { aGranule, lambdaEnv, useLocalTable } from "./helpers/local";

const table = useLocalTable();
afterEach(() => vi.restoreAllMocks());

describe("summarize handler", () => {
  it("returns the window's counts and publishes them as metrics", async () => {
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient } });
    const { granule: done, day } = aGranule();
    const { granule: failed } = aGranule();
    await table.store.recordDiscovered(done, day);
    await table.store.recordDiscovered(failed, day);
    await table.store.claimGranule(done.granuleId, "w");
    await table.store.markDownloaded(done.granuleId, "w", { s3Key: `${done.name}.zip`, bytesWritten: 4096 });
    await table.store.markFailed(failed.granuleId, { name: "GranuleGoneError", message: "410" });
    const added: [string, number][] = [];
    vi.spyOn(metrics, "addMetric").mockImplementation((name, _unit, value) => {
      added.push([name, value]);
      return metrics;
    });
    const published = vi.spyOn(metrics, "publishStoredMetrics").mockImplementation(() => metrics);

    const summary = await handler({ from: day, to: day });

    expect(summary.days).toHaveLength(1);
    expect(summary.days[0]).toMatchObject({
      day,
      counts: { DISCOVERED: 0, DOWNLOADING: 0, DOWNLOADED: 1, FAILED: 1 },
      recorded: 2,
      downloaded: 1,
      failed: 1,
      failures: { GranuleGoneError: 1 },
      bytes: 4096,
    });
    expect(added).toEqual([
      ["GranulesDownloaded", 1],
      ["GranulesFailed", 1],
      ["GranulesPending", 0],
      ["GranulesMissing", 0],
      ["GranulesFiltered", 0],
      ["BytesDownloaded", 4096],
    ]);
    expect(published).toHaveBeenCalledOnce();
  });
});
