import { GranuleStore, type Hub } from "@hls-s2/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../src/fetch-links";
import { configureRuntime, resetRuntime } from "../src/lib/runtime";
import { aGranule, fakeHub, type LocalTable, lambdaEnv, startLocalTable, TABLE } from "./helpers/local";

let table: LocalTable;
let store: GranuleStore;

beforeAll(async () => {
  table = await startLocalTable();
  store = new GranuleStore(table.documentClient, { tableName: TABLE });
});
afterAll(() => table.close());
afterEach(() => resetRuntime());

describe("fetch-links handler", () => {
  it("records the hub's granules and returns the iteration state the PageLoop reads", async () => {
    const { granule, day } = aGranule();
    const hub: Hub = {
      ...fakeHub(Buffer.alloc(0)),
      async listSearchPage() {
        return {
          totalResults: 2,
          entriesOnPage: 2,
          granules: [granule],
          rejected: [{ id: "x", reason: "tile not allowed" }],
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
    expect(await store.getGranule(granule.granuleId)).toMatchObject({ status: "DISCOVERED", day });
  });

  it("requests no page when the Lambda has no time left beyond its margin, and says it is not finished", async () => {
    const { day } = aGranule();
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
