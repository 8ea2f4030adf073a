import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import type { Hub } from "../../src/adapters/hub/hub";
import { HubUnavailableError } from "../../src/domain/errors";
import { fetchPage } from "../../src/usecases/fetch-page";
import { pagedHub } from "../helpers/use-case-fakes";

const { store } = useGranuleTable("fetch-deadline-test");

/** A hub whose page at `stallAt` never answers until the caller's signal aborts (a 429 ladder, a stall). */
function stallingHub(entries: number, pageSize: number, stallAt: number) {
  const paged = pagedHub(
    Array.from({ length: entries }, () => aDiscoveredGranule()),
    pageSize,
  );
  const asked: number[] = [];
  const hub: Hub = {
    ...paged.hub,
    listSearchPage(query, offset, options) {
      asked.push(offset);
      if (offset !== stallAt) return paged.hub.listSearchPage(query, offset, options);
      return new Promise((_, reject) => {
        options?.signal?.addEventListener("abort", () => reject(options.signal?.reason), { once: true });
      });
    },
  };
  return { hub, asked };
}

describe("fetchPage at the end of its invocation", () => {
  it("stops the page in flight when the signal aborts, keeping the offset of the pages read before it", async () => {
    const query = { day: aUniqueDay(), platform: "S2A" } as const;
    const { hub, asked } = stallingHub(6, 2, 2);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new DOMException("working time over", "TimeoutError")), 200);

    const result = await fetchPage(
      query,
      { hub, store },
      { deadline: Date.now() + 60_000, signal: controller.signal },
    );

    expect(asked).toEqual([0, 2]);
    expect(result).toMatchObject({ finished: false, pages: 1, fetched: 2, recorded: 2 });
    expect(await store.getFetchProgress(query.day, query.platform)).toMatchObject({
      nextOffset: 2,
      finished: false,
    });
  });

  it("ends in a retryable HubUnavailableError when the signal stops its first page", async () => {
    const query = { day: aUniqueDay(), platform: "S2B" } as const;
    const { hub } = stallingHub(4, 2, 0);
    const signal = AbortSignal.timeout(100);

    const fetching = fetchPage(query, { hub, store }, { deadline: Date.now() + 60_000, signal });

    await expect(fetching).rejects.toThrow(HubUnavailableError);
    await expect(fetching).rejects.toThrow(/no page from offset 0/);
  });
});
