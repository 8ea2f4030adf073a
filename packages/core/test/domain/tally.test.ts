import { aDiscoveredGranule } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import type { GranuleRecord, GranuleStatus, Platform } from "../../src/domain/granule";
import { emptyTally, type SearchCounter, tallyOfDay, tallyOfWindow } from "../../src/domain/tally";

const NOW = Date.parse("2030-06-01T12:00:00Z");

function aRecord(day: string, platform: Platform, status: GranuleStatus, extra: Partial<GranuleRecord> = {}) {
  return {
    ...aDiscoveredGranule({ platform }),
    day,
    status,
    attempts: 0,
    createdAt: "2030-06-01T00:00:00.000Z",
    updatedAt: "2030-06-01T00:00:00.000Z",
    ...extra,
  } satisfies GranuleRecord;
}

function aCounter(overrides: Partial<SearchCounter> = {}): SearchCounter {
  return {
    available: 0,
    finished: true,
    lastFetchAt: "2030-06-01T01:00:00.000Z",
    recorded: 0,
    filtered: emptyTally().filteredBy,
    ...overrides,
  };
}

describe("tallyOfDay", () => {
  it("holds found = recorded + filtered and recorded = downloaded + failed + pending + missing per platform", () => {
    const day = "2030-05-31";
    const granules = [
      aRecord(day, "S2A", "DOWNLOADED", { bytesWritten: 10 }),
      aRecord(day, "S2A", "FAILED", { lastError: { name: "GranuleGoneError", message: "gone" } }),
      aRecord(day, "S2A", "DOWNLOADING", { leaseExpiresAt: NOW - 1 }),
      aRecord(day, "S2A", "DOWNLOADING", { leaseExpiresAt: NOW + 60_000 }),
    ];
    const s2a = aCounter({ available: 7, recorded: 5, filtered: { ...emptyTally().filteredBy, tile: 2 } });

    const tally = tallyOfDay(day, granules, [s2a, undefined, undefined], NOW);

    expect(tally.platforms).toHaveLength(1);
    expect(tally.platforms[0]).toMatchObject({
      platform: "S2A",
      available: 7,
      found: 7,
      filtered: 2,
      recorded: 5,
      downloaded: 1,
      failed: 1,
      pending: 2,
      stuck: 1,
      missing: 1,
      bytes: 10,
      failures: { GranuleGoneError: 1 },
    });
    expect(tally.counts).toEqual({ DISCOVERED: 0, DOWNLOADING: 2, DOWNLOADED: 1, FAILED: 1, DUPLICATE: 0 });
  });

  it("counts from the index when the counter recorded fewer (granules from before the counters)", () => {
    const day = "2030-05-30";
    const tally = tallyOfDay(day, [aRecord(day, "S2B", "DISCOVERED")], [], NOW);
    expect(tally).toMatchObject({ recorded: 1, missing: 0, found: 1, pending: 1 });
    expect(tally.platforms[0]).not.toHaveProperty("available");
  });
});

describe("tallyOfWindow", () => {
  it("adds the days' tallies and their counts by status", () => {
    const first = tallyOfDay("2030-05-01", [aRecord("2030-05-01", "S2C", "DISCOVERED")], [], NOW);
    const second = tallyOfDay("2030-05-02", [aRecord("2030-05-02", "S2C", "DOWNLOADED")], [], NOW);

    const window = tallyOfWindow("2030-05-01", "2030-05-02", [first, second]);

    expect(window.totals).toMatchObject({ found: 2, pending: 1, downloaded: 1 });
    expect(window.totals.counts).toEqual({
      DISCOVERED: 1,
      DOWNLOADING: 0,
      DOWNLOADED: 1,
      FAILED: 0,
      DUPLICATE: 0,
    });
  });
});
