import { Readable } from "node:stream";
import { aDiscoveredGranule } from "@hls-s2/testing/granules";
import type { Hub, RejectedEntry, SearchPage, SearchQuery } from "../../src/adapters/hub/hub";
import type { DiscoveredGranule, GranuleRecord } from "../../src/domain/granule";

/** A granule item as the table holds it. */
export function makeRecord(overrides: Partial<GranuleRecord> = {}): GranuleRecord {
  return {
    ...aDiscoveredGranule(overrides),
    day: "2024-01-01",
    status: "DISCOVERED",
    attempts: 0,
    createdAt: "2024-01-01T12:00:00.000Z",
    updatedAt: "2024-01-01T12:00:00.000Z",
    ...overrides,
  };
}

/** A hub whose search serves `entries` in pages of `pageSize`; rejected entries count towards the offset. */
export function pagedHub(entries: (DiscoveredGranule | RejectedEntry)[], pageSize: number) {
  const calls: { query: SearchQuery; offset: number }[] = [];
  const hub: Hub = {
    kind: "dhus",
    async listSearchPage(query, offset): Promise<SearchPage> {
      calls.push({ query, offset });
      const slice = entries.slice(offset, offset + pageSize);
      const next = offset + slice.length;
      return {
        totalResults: entries.length,
        entriesOnPage: slice.length,
        granules: slice.filter((e): e is DiscoveredGranule => "granuleId" in e),
        rejected: slice.filter((e): e is RejectedEntry => "reason" in e),
        ...(next < entries.length && { nextOffset: next }),
      };
    },
    async getChecksum() {
      throw new Error("not used");
    },
    async openDownload() {
      return { body: Readable.from([]), offset: 0 };
    },
  };
  return { hub, calls };
}
