import { CdseHub, DhusHub, type Hub } from "@hls-s2/core/hub";
import { fetchPage } from "@hls-s2/core/usecases";
import { createCatalogue, type FaultPlan, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aUniqueDay } from "@hls-s2/testing/granules";
import { afterEach, describe, expect, it } from "vitest";

// Paging against a hub that changes while it is paged (issue 22, findings 3 and 8): whatever the hub
// ingests, ties or withdraws between two pages, every product it listed at some point is recorded
// once, and the counters equal the index.

const { store } = useGranuleTable("paging-test");
const CREDENTIALS = { username: "u", password: "p" };
const FILTERS = { maxAcquisitionAgeDays: 3650 };
const FAST_HTTP = { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 10 };
const PAGE = 5;
// Ten products in pages of five: a tie at position 5 straddles a page boundary oldest- and newest-first.
const N = 10;

let hub: MockHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function startHub(day: string, faults: FaultPlan): Promise<MockHub> {
  hub = await startMockHub({
    catalogue: createCatalogue({ seed: `paging-${day}`, days: [day], platforms: ["S2A"], granulesPerDay: N }),
    credentials: CREDENTIALS,
    faults,
  });
  return hub;
}

const CLIENTS = {
  DHuS: (h: MockHub, pageSize = PAGE): Hub =>
    new DhusHub({ url: h.url, credentials: CREDENTIALS, filterRules: FILTERS, pageSize, http: FAST_HTTP }),
  CDSE: (h: MockHub, pageSize = PAGE): Hub =>
    new CdseHub({
      catalogueUrl: h.url,
      downloadUrl: h.url,
      credentials: CREDENTIALS,
      filterRules: FILTERS,
      pageSize,
      http: FAST_HTTP,
    }),
};

async function fetchAll(day: string, client: Hub) {
  return fetchPage({ day, platform: "S2A" }, { hub: client, store }, { deadline: Date.now() + 60_000 });
}

/**
 * Every product of the catalogue is a granule of the day, and the day's counter says exactly that;
 * `fetched` too, unless more products were withdrawn between two pages than a page re-reads.
 */
async function expectEveryProductRecordedOnce(h: MockHub, day: string, options = { fetchedExact: true }) {
  const missing: string[] = [];
  for (const product of h.catalogue.products) {
    if ((await store.getGranule(product.id)) === undefined) missing.push(product.name);
  }
  expect(missing).toEqual([]);
  expect(await store.listPendingReconciled(day)).toMatchObject({ indexed: N, recorded: N });
  if (options.fetchedExact) expect((await store.getFetchProgress(day, "S2A"))?.fetched).toBe(N);
}

describe.each(["DHuS", "CDSE"] as const)("paging the %s search", (api) => {
  it("finds what the hub ingested between a finished query and the next run (oldest first)", async () => {
    const day = aUniqueDay();
    // The first run's one request does not see the three newest products; the next run's does.
    const h = await startHub(day, { paging: { ingest: { afterRequests: 1, count: 3 } } });

    const first = await fetchAll(day, CLIENTS[api](h, 100));
    const second = await fetchAll(day, CLIENTS[api](h, 100));

    expect(first).toMatchObject({ finished: true, recorded: N - 3 });
    expect(second).toMatchObject({ finished: true, recorded: 3 });
    await expectEveryProductRecordedOnce(h, day);
  });

  it("misses nothing when the hub ingests while the day is paged", async () => {
    const day = aUniqueDay();
    const h = await startHub(day, { paging: { ingest: { afterRequests: 1, count: 3 } } });

    expect(await fetchAll(day, CLIENTS[api](h))).toMatchObject({ finished: true, recorded: N });
    await expectEveryProductRecordedOnce(h, day);
  });

  it("misses nothing when a product is withdrawn between two pages (later offsets shift by one)", async () => {
    const day = aUniqueDay();
    const h = await startHub(day, { paging: { withdraw: { afterRequests: 1, at: 1 } } });

    expect(await fetchAll(day, CLIENTS[api](h))).toMatchObject({ finished: true, recorded: N });
    expect(h.pagingFaults().withdrawn).toBeGreaterThan(0);
    await expectEveryProductRecordedOnce(h, day);
  });

  it("misses nothing when publication times tie across a page boundary", async () => {
    const day = aUniqueDay();
    const h = await startHub(day, { paging: { tie: { offset: PAGE, size: 2 } } });

    expect(await fetchAll(day, CLIENTS[api](h))).toMatchObject({ finished: true, recorded: N });
    expect(h.pagingFaults().tied).toBeGreaterThan(0);
    await expectEveryProductRecordedOnce(h, day);
  });

  it("misses nothing when more products are withdrawn between two pages than a page re-reads", async () => {
    const day = aUniqueDay();
    // The whole first page withdrawn: more than the 4 entries a page of 5 re-reads.
    const h = await startHub(day, { paging: { withdraw: { afterRequests: 1, at: 0, count: PAGE } } });

    expect(await fetchAll(day, CLIENTS[api](h))).toMatchObject({ finished: true, recorded: N });
    await expectEveryProductRecordedOnce(h, day, { fetchedExact: false });
  });
});

describe("paging a CDSE day split into windows (more results than $skip's cap)", () => {
  it("re-reads within each window and moves on at its end, missing nothing under a withdrawal", async () => {
    const day = aUniqueDay();
    const h = await startHub(day, { paging: { withdraw: { afterRequests: 3, at: 2 } } });
    const client = new CdseHub({
      catalogueUrl: h.url,
      downloadUrl: h.url,
      credentials: CREDENTIALS,
      filterRules: FILTERS,
      pageSize: 3,
      maxSkip: 4,
      http: FAST_HTTP,
    });

    expect(await fetchAll(day, client)).toMatchObject({ finished: true, recorded: N });
    await expectEveryProductRecordedOnce(h, day);
  });
});
