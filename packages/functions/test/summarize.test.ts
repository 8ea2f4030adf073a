import { GranuleStore } from "@hls-s2/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { metrics } from "../src/lib/metrics";
import { configureRuntime, resetRuntime } from "../src/lib/runtime";
import { handler } from "../src/summarize";
import { aGranule, type LocalTable, lambdaEnv, startLocalTable, TABLE } from "./helpers/local";

let table: LocalTable;
let store: GranuleStore;

beforeAll(async () => {
  table = await startLocalTable();
  store = new GranuleStore(table.documentClient, { tableName: TABLE });
});
afterAll(() => table.close());
afterEach(() => {
  vi.restoreAllMocks();
  resetRuntime();
});

describe("summarize handler", () => {
  it("returns the window's counts and publishes them as metrics", async () => {
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient } });
    const { granule: done, day } = aGranule();
    const { granule: failed } = aGranule();
    await store.recordDiscovered(done, day);
    await store.recordDiscovered(failed, day);
    await store.claimGranule(done.granuleId, "w");
    await store.markDownloaded(done.granuleId, "w", { s3Key: `${done.name}.zip`, bytesWritten: 4096 });
    await store.markFailed(failed.granuleId, { name: "GranuleGoneError", message: "410" });
    const added: [string, number][] = [];
    vi.spyOn(metrics, "addMetric").mockImplementation((name, _unit, value) => {
      added.push([name, value]);
      return metrics;
    });
    const published = vi.spyOn(metrics, "publishStoredMetrics").mockImplementation(() => metrics);

    const summary = await handler({ from: day, to: day });

    expect(summary.days).toEqual([
      {
        day,
        counts: { DISCOVERED: 0, DOWNLOADING: 0, DOWNLOADED: 1, FAILED: 1 },
        failures: { GranuleGoneError: 1 },
        bytes: 4096,
      },
    ]);
    expect(added).toEqual([
      ["GranulesDownloaded", 1],
      ["GranulesFailed", 1],
      ["GranulesPending", 0],
      ["BytesDownloaded", 4096],
    ]);
    expect(published).toHaveBeenCalledOnce();
  });
});
