import type { S3Client } from "@aws-sdk/client-s3";
import { createCatalogue, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CdseHub } from "../../../src/adapters/hub/cdse/hub";
import { DhusHub } from "../../../src/adapters/hub/dhus";
import type { Hub } from "../../../src/adapters/hub/hub";
import { GranuleStore } from "../../../src/adapters/store/store";
import { fetchPage } from "../../../src/usecases/fetch-page";
import { reportDay } from "../../../src/usecases/report-day";

// The hub's count of a (day, platform), the completeness report's "hub count": each search page
// carries it (DHuS `opensearch:totalResults`, CDSE `@odata.count` of `$count=true`, summed over the
// `$top=0` counts of its windows past the `$skip` cap), FetchPage stores it as the counter's
// `available`, and a finished search is asked again by every later run, so a page read after
// midnight is the count of the closed day. Here against the mock hub, which answers as the real APIs do.
const DAYS = ["2026-11-23", "2026-11-24"];
const USER = { username: "alice", password: "s3cret" };
const RULES = { maxAcquisitionAgeDays: 30 };
const TABLE = "hub-count-test";
const dynamo = useGranuleTable(TABLE);

let hub: MockHub;

beforeAll(async () => {
  // Two days, so a count that ignores the day's window shows.
  const catalogue = createCatalogue({ seed: "count", days: DAYS, granulesPerDay: 60, sizeBytes: 1000 });
  hub = await startMockHub({ catalogue, credentials: USER });
});

afterAll(async () => {
  await hub?.close();
});

function published(day: string, platform: string): number {
  return hub.catalogue.products.filter((p) => p.day === day && p.platform === platform).length;
}

const HUBS: Record<"dhus" | "cdse" | "cdse windows", () => Hub> = {
  dhus: () => new DhusHub({ url: hub.url, credentials: USER, filterRules: RULES, pageSize: 7 }),
  cdse: () =>
    new CdseHub({ catalogueUrl: hub.url, downloadUrl: hub.url, credentials: USER, filterRules: RULES }),
  // A `$skip` cap below the day's count: the count is the sum of the planned windows' `$top=0` counts.
  "cdse windows": () =>
    new CdseHub({
      catalogueUrl: hub.url,
      downloadUrl: hub.url,
      credentials: USER,
      filterRules: RULES,
      pageSize: 5,
      maxSkip: 6,
    }),
};

describe.each(Object.keys(HUBS) as (keyof typeof HUBS)[])("the %s hub's count", (kind) => {
  it("is the number of the day's products of the platform, whatever page is asked", async () => {
    const client = HUBS[kind]();
    for (const day of DAYS) {
      for (const platform of ["S2A", "S2B"] as const) {
        // Act
        const first = await client.listSearchPage({ day, platform }, 0);
        const later = await client.listSearchPage({ day, platform }, 5);
        // Assess
        expect(first.totalResults).toBe(published(day, platform));
        expect(later.totalResults).toBe(published(day, platform));
      }
    }
    expect(published(DAYS[0]!, "S2A")).toBeGreaterThan(6);
  });

  it("is asked again after the day closed by a search that had finished, and reported as the hub's count", async () => {
    // Prepare: the day searched to its end at 23:00, then again the next day at noon (the daily run).
    const client = HUBS[kind]();
    const [day, next] = DAYS as [string, string];
    const platform = kind === "dhus" ? "S2A" : kind === "cdse" ? "S2B" : "S2C";
    const at = (iso: string) =>
      new GranuleStore(dynamo.documentClient, { tableName: TABLE, now: () => new Date(iso) });
    const fetchAt = (iso: string) =>
      fetchPage(
        { day, platform },
        { hub: client, store: at(iso) },
        { deadline: Date.now() + 60_000, now: Date.now },
      );
    // No delivery manifest in this test: a work bucket that holds none.
    const s3 = {
      send: async () => {
        throw Object.assign(new Error("no such key"), { name: "NoSuchKey" });
      },
    } as unknown as S3Client;
    const hubCountOf = async () =>
      (await reportDay(day, { store: dynamo.store, s3, bucket: "work" })).platforms.find(
        (row) => row.platform === platform,
      );
    await fetchAt(`${day}T23:00:00.000Z`);
    expect((await hubCountOf())?.hubCount).toBeUndefined();

    // Act
    const again = await fetchAt(`${next}T12:00:00.000Z`);

    // Assess: the finished search asked the hub again; its count now stands with a time after midnight.
    expect(again).toMatchObject({ finished: true, available: published(day, platform), recorded: 0 });
    expect(await hubCountOf()).toMatchObject({
      hubCount: published(day, platform),
      hubCountAt: `${next}T12:00:00.000Z`,
    });
  });
});
