import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import type { Hub, RejectedEntry } from "../../src/adapters/hub/hub";
import type { GranuleStore } from "../../src/adapters/store/store";
import { HubUnavailableError, InvalidHubDataError } from "../../src/domain/errors";
import type { DiscoveredGranule } from "../../src/domain/granule";
import { fetchPage, RECORD_CONCURRENCY } from "../../src/usecases/fetch-page";
import { pagedHub } from "../helpers/use-case-fakes";

const { store } = useGranuleTable("links-test");

/** A query on a day no other test uses, so the stored progress is this test's own. */
function aQuery() {
  return { day: aUniqueDay(), platform: "S2B" } as const;
}
const FAR = () => Date.now() + 60_000;

describe("fetchPage", () => {
  it("pages the whole search and records every accepted granule", async () => {
    const entries = Array.from({ length: 5 }, () => aDiscoveredGranule());
    const { hub, calls } = pagedHub(entries, 2);
    const query = aQuery();

    const result = await fetchPage(query, { hub, store }, { deadline: FAR() });

    expect(result).toMatchObject({
      ...query,
      finished: true,
      available: 5,
      fetched: 5,
      recorded: 5,
      pages: 3,
    });
    expect(calls.map((c) => c.offset)).toEqual([0, 2, 4]);
    const stored = await store.listPending(query.day);
    expect(stored.map((g) => g.granuleId).sort()).toEqual(entries.map((g) => g.granuleId).sort());
    expect(await store.getFetchProgress(query.day, query.platform)).toMatchObject({
      available: 5,
      fetched: 5,
      nextOffset: 5,
      finished: true,
    });
  });

  it("records a page's granules concurrently, at most RECORD_CONCURRENCY at a time", async () => {
    const entries = Array.from({ length: 40 }, () => aDiscoveredGranule());
    const { hub } = pagedHub(entries, 40);
    const query = aQuery();
    let inFlight = 0;
    let peak = 0;
    const counting = {
      getFetchProgress: store.getFetchProgress.bind(store),
      recordFetchProgress: store.recordFetchProgress.bind(store),
      async recordDiscovered(...args: Parameters<GranuleStore["recordDiscovered"]>) {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        try {
          return await store.recordDiscovered(...args);
        } finally {
          inFlight -= 1;
        }
      },
    };

    const result = await fetchPage(query, { hub, store: counting }, { deadline: FAR() });

    expect(result).toMatchObject({ finished: true, recorded: 40 });
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(RECORD_CONCURRENCY);
    expect(await store.listPending(query.day)).toHaveLength(40);
  });

  it("counts rejected entries per filter reason and returns only a small sample of them", async () => {
    const rejected: RejectedEntry[] = Array.from({ length: 12 }, (_, i) => ({
      id: `r${i}`,
      reason: i < 9 ? "tile not allowed" : "too old",
      filter: i < 9 ? "tile" : "age",
    }));
    const { hub } = pagedHub([aDiscoveredGranule(), ...rejected], 5);
    const query = aQuery();

    const result = await fetchPage(query, { hub, store }, { deadline: FAR() });

    expect(result.recorded).toBe(1);
    expect(result.rejected).toBe(12);
    expect(result.rejectedSample).toHaveLength(5);
    expect(result.rejectedSample[0]).toEqual({ id: "r0", reason: "tile not allowed", filter: "tile" });
    // Summed over the three pages in the (day, platform) counter item, beside what was recorded.
    const progress = await store.getFetchProgress(query.day, query.platform);
    expect(progress?.filtered).toMatchObject({ tile: 9, age: 3, level: 0, unsafeName: 0 });
    expect(progress?.recorded).toBe(1);
  });

  it("stops at the deadline and resumes from the stored offset", async () => {
    const entries = Array.from({ length: 6 }, () => aDiscoveredGranule());
    const { hub: paged, calls } = pagedHub(entries, 2);
    let clock = 0;
    // Each page costs 10 ms of a fake clock; a deadline at 20 allows two pages.
    const hub: Hub = {
      ...paged,
      async listSearchPage(query, offset, options) {
        clock += 10;
        return paged.listSearchPage(query, offset, options);
      },
    };
    const now = () => clock;
    const query = aQuery();

    const first = await fetchPage(query, { hub, store }, { deadline: 20, now });
    expect(first).toMatchObject({ finished: false, fetched: 4, recorded: 4, pages: 2 });

    const second = await fetchPage(query, { hub, store }, { deadline: FAR() });
    expect(second).toMatchObject({ finished: true, fetched: 6, recorded: 2, pages: 1 });
    expect(calls.map((c) => c.offset)).toEqual([0, 2, 4]);
  });

  it("does not record a granule twice when a page is read again", async () => {
    const entries = Array.from({ length: 3 }, () => aDiscoveredGranule());
    const query = aQuery();
    await fetchPage(query, { hub: pagedHub(entries, 10).hub, store }, { deadline: FAR() });

    // The hub published one more: the finished query is asked again from its stored offset.
    const more = [...entries, aDiscoveredGranule()];
    const { hub, calls } = pagedHub(more, 10);
    const result = await fetchPage(query, { hub, store }, { deadline: FAR() });

    expect(calls.map((c) => c.offset)).toEqual([3]);
    expect(result).toMatchObject({ finished: true, available: 4, fetched: 4, recorded: 1 });
  });

  it("keeps the progress of earlier pages when the hub fails", async () => {
    const { hub: good } = pagedHub(
      Array.from({ length: 4 }, () => aDiscoveredGranule()),
      2,
    );
    let served = 0;
    const hub: Hub = {
      ...good,
      async listSearchPage(query, offset, options) {
        served += 1;
        if (served === 2) throw new HubUnavailableError("503 from hub", { status: 503 });
        return good.listSearchPage(query, offset, options);
      },
    };
    const query = aQuery();

    await expect(fetchPage(query, { hub, store }, { deadline: FAR() })).rejects.toThrow(HubUnavailableError);
    expect(await store.getFetchProgress(query.day, query.platform)).toMatchObject({
      nextOffset: 2,
      finished: false,
    });
  });

  it("rejects a hub page whose next offset does not advance", async () => {
    const { hub: good } = pagedHub([aDiscoveredGranule()], 1);
    const hub: Hub = {
      ...good,
      async listSearchPage() {
        return { totalResults: 9, entriesOnPage: 1, granules: [], rejected: [], nextOffset: 0 };
      },
    };
    const query = aQuery();

    await expect(fetchPage(query, { hub, store }, { deadline: FAR() })).rejects.toThrow(InvalidHubDataError);
  });
});

describe("fetchPage against a hub whose paging does not progress", () => {
  /** A hub that answers every offset with the first page and a fresh next offset: it ignores `start`. */
  function hubIgnoringOffset(total: number, pageSize: number) {
    const entries = Array.from({ length: pageSize }, () => aDiscoveredGranule());
    let requests = 0;
    const hub: Hub = {
      kind: "dhus",
      async listSearchPage(_query, offset) {
        requests += 1;
        return {
          totalResults: total,
          entriesOnPage: entries.length,
          granules: entries,
          rejected: [],
          nextOffset: offset + entries.length,
        };
      },
      async getChecksum() {
        throw new Error("not used");
      },
      async openDownload() {
        throw new Error("not used");
      },
    };
    return { hub, requests: () => requests };
  }

  it("fails the query typed when a page repeats the previous page's entries", async () => {
    const { hub, requests } = hubIgnoringOffset(1000, 100);

    const error = await fetchPage(aQuery(), { hub, store }, { deadline: FAR() }).catch((e: Error) => e);

    expect(error).toBeInstanceOf(InvalidHubDataError);
    expect((error as Error).message).toMatch(/repeats the entries of the page at 0/);
    // At most totalResults / pageSize + 2 requests; here the second page already gives it away.
    expect(requests()).toBeLessThanOrEqual(1000 / 100 + 2);
    expect(requests()).toBe(2);
  });

  it("fails the query typed after totalResults / pageSize + 1 pages of ever-new entries", async () => {
    let requests = 0;
    const hub: Hub = {
      kind: "cdse",
      async listSearchPage(_query, offset) {
        requests += 1;
        const entries = Array.from({ length: 10 }, () => aDiscoveredGranule());
        return {
          totalResults: 30,
          entriesOnPage: 10,
          granules: entries,
          rejected: [],
          nextOffset: offset + 10,
        };
      },
      async getChecksum() {
        throw new Error("not used");
      },
      async openDownload() {
        throw new Error("not used");
      },
    };

    const error = await fetchPage(aQuery(), { hub, store }, { deadline: FAR() }).catch((e: Error) => e);

    expect(error).toBeInstanceOf(InvalidHubDataError);
    expect((error as Error).message).toMatch(/exceeds the 4 pages 30 results need/);
    expect(requests).toBe(5);
  });
});

describe("two fetchers of one query (EventBridge delivers at least once)", () => {
  it("count each entry once: found = filtered + recorded", async () => {
    const accepted = Array.from({ length: 9 }, () => aDiscoveredGranule());
    const rejected: RejectedEntry[] = Array.from({ length: 3 }, (_, i) => ({
      id: `two-fetchers-${i}`,
      reason: "tile not allowed",
      filter: "tile",
    }));
    const { hub } = pagedHub([...accepted.slice(0, 4), ...rejected, ...accepted.slice(4)], 3);
    const query = aQuery();

    const results = await Promise.all([
      fetchPage(query, { hub, store }, { deadline: FAR() }),
      fetchPage(query, { hub, store }, { deadline: FAR() }),
    ]);

    expect(results.map((r) => r.finished)).toEqual([true, true]);
    expect(results[0]!.recorded + results[1]!.recorded).toBe(9);
    const progress = await store.getFetchProgress(query.day, query.platform);
    expect(progress).toMatchObject({ fetched: 12, nextOffset: 12, recorded: 9 });
    expect(progress?.filtered.tile).toBe(3);
    expect(await store.listPendingReconciled(query.day)).toMatchObject({ indexed: 9, recorded: 9 });
  });
});

describe("fetchPage re-reading the previous page's tail", () => {
  /** A hub whose pages never cross a window of `window` entries (CDSE's split of a day past $skip's cap). */
  function windowedHub(entries: DiscoveredGranule[], pageSize: number, window: number) {
    const calls: number[] = [];
    const hub: Hub = {
      kind: "cdse",
      pageOverlap: 2,
      async listSearchPage(_query, offset) {
        calls.push(offset);
        const windowEnd = Math.min(entries.length, (Math.floor(offset / window) + 1) * window);
        const slice = entries.slice(offset, Math.min(offset + pageSize, windowEnd));
        const next = offset + slice.length;
        return {
          totalResults: entries.length,
          entriesOnPage: slice.length,
          granules: slice,
          rejected: [],
          ...(next < entries.length && { nextOffset: next }),
        };
      },
      async getChecksum() {
        throw new Error("not used");
      },
      async openDownload() {
        throw new Error("not used");
      },
    };
    return { hub, calls };
  }

  it("moves on past a window boundary whose re-read brings nothing new", async () => {
    const entries = Array.from({ length: 12 }, () => aDiscoveredGranule());
    const { hub, calls } = windowedHub(entries, 4, 5);
    const query = aQuery();

    const result = await fetchPage(query, { hub, store }, { deadline: FAR() });

    expect(result).toMatchObject({ finished: true, recorded: 12, fetched: 12 });
    // Never the same offset twice in a row: each request starts past the one before.
    expect(calls.every((offset, i) => i === 0 || offset > calls[i - 1]!)).toBe(true);
  });
});

describe("fetchPage re-checking a finished query after the hub lost entries it had passed", () => {
  it("finds products published since, although the stored offset is past the hub's new total", async () => {
    const entries: DiscoveredGranule[] = Array.from({ length: 8 }, () => aDiscoveredGranule());
    const paged = pagedHub(entries, 4);
    const hub: Hub = { ...paged.hub, pageOverlap: 2 };
    const query = aQuery();
    expect(await fetchPage(query, { hub, store }, { deadline: FAR() })).toMatchObject({
      finished: true,
      recorded: 8,
    });
    // More products withdrawn than a page re-reads, then two published: the hub's total (6) is below
    // the stored offset (8), so the page there is empty although two products are new.
    entries.splice(0, 4);
    const late = [aDiscoveredGranule(), aDiscoveredGranule()];
    entries.push(...late);

    const result = await fetchPage(query, { hub, store }, { deadline: FAR() });

    expect(result).toMatchObject({ finished: true, recorded: 2 });
    const stored = (await store.listPending(query.day)).map((g) => g.granuleId);
    expect(stored).toEqual(expect.arrayContaining(late.map((g) => g.granuleId)));
    expect(await store.getFetchProgress(query.day, query.platform)).toMatchObject({ nextOffset: 6 });
  });
});
