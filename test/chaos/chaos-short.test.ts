// The short form of the chaos run (docs/chaos.md), in `npm test`'s reliability project (one file at a time).

import { tempDataDir, useCleanups } from "@hls-s2/testing/data-folder";
import { formatInvariantReport } from "@hls-s2/testing/invariants";
import { describe, expect, it } from "vitest";
import { runChaos } from "./scenario";

const cleanups = useCleanups();

describe("the chaos run, short form", () => {
  it("ends every granule DOWNLOADED with one verified object or FAILED for good, with nothing left open", async () => {
    const dataDir = await tempDataDir(cleanups, "hls-s2-chaos-");

    const result = await runChaos({
      dataDir,
      days: 2,
      granulesPerDay: 18,
      seed: "chaos-short",
      searchPageSize: 2,
      pushEveryMinutes: 10,
      morningAndEveningPushes: false,
      // A stalled part holds its invocation 2 s (the full run: 5 s) before it ends as at its timeout.
      downloadTimeoutMs: 2_000,
    });

    // Every fault kind was injected, so a pass means each was survived.
    for (const kind of [
      "stalledParts",
      "lostDynamoResponses",
      "killedFetchPage",
      "killedDownload",
      "ingestedDuringPaging",
      "withdrawnBetweenPages",
      "tiedProducts",
      "checksumLatePhases",
    ]) {
      expect(result.injected[kind], kind).toBeGreaterThan(0);
    }
    expect(result.report.broken, formatInvariantReport(result.report)).toEqual([]);
  }, 600_000);
});
