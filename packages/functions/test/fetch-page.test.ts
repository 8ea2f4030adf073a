import type { Hub } from "@hls-s2/core/hub";
import { aDiscoveredGranule, aGranuleOfItsOwnDay } from "@hls-s2/testing/granules";
import { describe, expect, it, vi } from "vitest";
import { handler } from "../src/fetch-page";
import { metricSink } from "../src/lib/metrics";
import { configureRuntime } from "../src/lib/runtime";
import { fakeHub, lambdaEnv, useLocalTable } from "./helpers/local";

const table = useLocalTable();

describe("fetch-page handler", () => {
  it("records the hub's granules and returns the iteration state the PageLoop reads", async () => {
    const { granule, day } = aGranuleOfItsOwnDay();
    const hub: Hub = {
      ...fakeHub(Buffer.alloc(0)),
      async listSearchPage() {
        return {
          totalResults: 2,
          entriesOnPage: 2,
          granules: [granule],
          rejected: [{ id: "x", reason: "tile not allowed", filter: "tile" }],
        };
      },
    };
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient }, hub });

    const result = await handler({ day, platform: "S2B" });

    expect(result).toEqual({
      day,
      platform: "S2B",
      finished: true,
      available: 2,
      fetched: 2,
      recorded: 1,
      rejected: 1,
      pages: 1,
    });
    expect(await table.store.getGranule(granule.granuleId)).toMatchObject({ status: "DISCOVERED", day });
  });

  it("requests no page when the Lambda has no time left beyond its margin, and says it is not finished", async () => {
    const { day } = aGranuleOfItsOwnDay();
    let searched = false;
    const hub: Hub = {
      ...fakeHub(Buffer.alloc(0)),
      async listSearchPage() {
        searched = true;
        return { totalResults: 0, entriesOnPage: 0, granules: [], rejected: [] };
      },
    };
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient }, hub });

    const result = await handler({ day, platform: "S2A" }, { getRemainingTimeInMillis: () => 30_000 });

    expect(result).toMatchObject({ finished: false, pages: 0 });
    expect(searched).toBe(false);
  });

  it("counts, with push on, the granules the search recorded that no push had recorded first", async () => {
    // Prepare: two products of a day; the push recorded the first one before the search.
    const { granule: pushed, day } = aGranuleOfItsOwnDay();
    const missed = aDiscoveredGranule({ publishedAt: pushed.publishedAt });
    await table.store.recordDiscovered(pushed, day);
    const hub: Hub = {
      ...fakeHub(Buffer.alloc(0)),
      async listSearchPage() {
        return { totalResults: 2, entriesOnPage: 2, granules: [pushed, missed], rejected: [] };
      },
    };
    const added = vi.spyOn(metricSink, "add");
    try {
      // Act: push on, then push off on a day of its own.
      configureRuntime({
        env: lambdaEnv({ PUSH_ENABLED: "true" }),
        clients: { dynamo: table.documentClient },
        hub,
      });
      const result = await handler({ day, platform: "S2B" });
      const withPush = added.mock.calls.filter(([name]) => name === "GranulesMissedByPush");
      const other = aGranuleOfItsOwnDay();
      configureRuntime({
        env: lambdaEnv(),
        clients: { dynamo: table.documentClient },
        hub: {
          ...hub,
          listSearchPage: async () => ({
            totalResults: 1,
            entriesOnPage: 1,
            granules: [other.granule],
            rejected: [],
          }),
        },
      });
      added.mockClear();
      await handler({ day: other.day, platform: "S2B" });

      // Assess
      expect(result).toMatchObject({ recorded: 1 });
      expect(withPush).toEqual([["GranulesMissedByPush", 1]]);
      expect(added.mock.calls.filter(([name]) => name === "GranulesMissedByPush")).toEqual([]);
    } finally {
      added.mockRestore();
    }
  });
});
