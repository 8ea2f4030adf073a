import type { Hub } from "@hls-s2/core/hub";
import { aGranuleOfItsOwnDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { handler } from "../src/fetch-page";
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
});
