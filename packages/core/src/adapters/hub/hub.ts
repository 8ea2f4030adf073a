import type { Readable } from "node:stream";
import { isValidDay } from "../../domain/day";
import { InvalidInputError } from "../../domain/errors";
import type { FilterReason } from "../../domain/filters";
import { type DiscoveredGranule, isPlatform, type Platform } from "../../domain/granule";

/** One search: the granules a hub published for one platform in a publication window. */
export interface SearchQuery {
  /** Publication day, YYYY-MM-DD (UTC). */
  day: string;
  platform: Platform;
  /** Publication window inside the day, ISO-8601; default the whole day. */
  from?: string;
  to?: string;
}

/**
 * The check every hub's listSearchPage makes before its first request: a calendar day, a Sentinel-2
 * platform, window bounds that parse.
 * @throws InvalidInputError naming the bad field.
 */
export function checkSearchQuery(query: SearchQuery): void {
  if (!isValidDay(query.day)) {
    throw new InvalidInputError(`query.day must be YYYY-MM-DD, got ${JSON.stringify(query.day)}`, {
      field: "day",
    });
  }
  if (!isPlatform(query.platform)) {
    throw new InvalidInputError(
      `query.platform must be a Sentinel-2 platform (S2[A-Z]), got ${JSON.stringify(query.platform)}`,
      { field: "platform" },
    );
  }
  for (const field of ["from", "to"] as const) {
    const value = query[field];
    if (value !== undefined && Number.isNaN(Date.parse(value))) {
      throw new InvalidInputError(`query.${field} is not a timestamp: ${JSON.stringify(value)}`, { field });
    }
  }
}

/** An entry the hub listed that we did not record, and why (filter or validation). */
export interface RejectedEntry {
  id: string;
  name?: string;
  reason: string;
  /** The reason's kind, counted per (day, platform) by the link fetcher. */
  filter: FilterReason;
}

export interface SearchPage {
  /** What the hub says the whole query has. */
  totalResults: number;
  /** Entries on this page (before filtering), to advance the offset by. */
  entriesOnPage: number;
  granules: DiscoveredGranule[];
  rejected: RejectedEntry[];
  /** Offset of the next page, absent when this was the last. */
  nextOffset?: number;
  /** The hub's ids of every entry on the page (accepted or not), to tell pages apart. */
  entryIds?: string[];
}

export interface DownloadStream {
  body: Readable;
  /**
   * Byte offset the body starts at: the requested offset when the hub honoured Range, 0 when it
   * ignored Range, and wherever its Content-Range says when it lied (the transfer restarts then).
   */
  offset: number;
  /** Bytes in this body (Content-Length), when known. */
  contentLength?: number;
  /** The product's complete length a 206's Content-Range names, when it names one. */
  totalLength?: number;
}

export interface HubCallOptions {
  signal?: AbortSignal;
}

/**
 * Entries a real hub's next page re-reads of the previous one (Hub.pageOverlap): as many products as
 * may be withdrawn between two page reads, or equal timestamps reordered, without one being skipped.
 */
export const PAGE_OVERLAP = 10;

/** The overlap a hub with pages of `pageSize` entries can afford: each page must still bring new ones. */
export function pageOverlapFor(pageSize: number): number {
  return Math.max(0, Math.min(PAGE_OVERLAP, pageSize - 1));
}

/** A hub API family (DHuS, CDSE): list a search page, get a granule's checksum, open a download stream. */
export interface Hub {
  readonly kind: "dhus" | "cdse";
  /**
   * How far a size this hub's catalogue gave may be from the product's real byte count: 0 when
   * exact (CDSE `ContentLength`), half a printed unit for DHuS ("660.95 MB"). Bounds the body.
   * Absent: the size is not trusted to bound the body at all (test doubles).
   */
  sizeToleranceBytes?(sizeBytes: number): number;
  /**
   * Entries of the previous page to read again at the start of the next: offsets shift when the hub
   * withdraws a product between two pages, and equal timestamps may come back in another order, so
   * the link fetcher re-reads this much and tells new entries from old by id. Absent or 0: the hub's
   * offsets are trusted as they are (test doubles).
   */
  readonly pageOverlap?: number;
  /** Lists one page of a search, validated and filtered. @throws HubThrottledError, HubUnavailableError, HubAuthError, InvalidHubDataError */
  listSearchPage(query: SearchQuery, offset: number, options?: HubCallOptions): Promise<SearchPage>;
  /** The hub's MD5 of a product, lowercase hex. @throws ChecksumNotPublishedError, GranuleGoneError, InvalidHubDataError, … */
  getChecksum(granuleId: string, options?: HubCallOptions): Promise<string>;
  /** Opens the product's body from `offset` (Range) on. @throws GranuleGoneError, HubThrottledError, HubUnavailableError, HubAuthError */
  openDownload(granuleId: string, options?: HubCallOptions & { offset?: number }): Promise<DownloadStream>;
}
