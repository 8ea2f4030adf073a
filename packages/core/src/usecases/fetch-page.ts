import type { Hub, RejectedEntry, SearchPage } from "../adapters/hub/hub";
import type { GranuleStore } from "../adapters/store/store";
import { HubUnavailableError, InvalidHubDataError, InvalidInputError } from "../domain/errors";
import type { FilterReason } from "../domain/filters";
import type { DiscoveredGranule } from "../domain/granule";
import type { DayQuery } from "./generate-queries";

/** How many rejected entries a fetch returns for the log: a sample to explain the count, not thousands of lines. */
export const REJECTED_SAMPLE_SIZE = 5;

export interface FetchLinksDeps {
  hub: Hub;
  store: Pick<GranuleStore, "recordDiscovered" | "getFetchProgress" | "recordFetchProgress">;
}

export interface FetchLinksOptions {
  /** Epoch ms: no new page is requested at or after it (the handler's remaining time minus a margin). */
  deadline: number;
  now?: () => number;
  /** Stops the page in flight too (see fetchPage); the handler's hard limit, later than `deadline`. */
  signal?: AbortSignal;
}

/**
 * Conditional puts in flight per page. One at a time, a 1,000-entry CDSE page costs ~1,000 round
 * trips (~5 s against DynamoDB); 16 at a time stays far below a table's on-demand limits.
 */
export const RECORD_CONCURRENCY = 16;

/** Records a page's granules, RECORD_CONCURRENCY at a time; returns how many were new. */
async function recordPage(
  granules: readonly DiscoveredGranule[],
  day: string,
  store: FetchLinksDeps["store"],
): Promise<number> {
  let next = 0;
  let recorded = 0;
  const worker = async () => {
    while (next < granules.length) {
      const granule = granules[next++]!;
      if ((await store.recordDiscovered(granule, day, { countLater: true })).recorded) recorded += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(RECORD_CONCURRENCY, granules.length) }, worker));
  return recorded;
}

/** One FetchPage iteration's output, which is also the next iteration's input. */
export interface FetchLinksResult {
  day: string;
  platform: DayQuery["platform"];
  /** True when the hub has no page after the last one read: the query is done. */
  finished: boolean;
  /** What the hub says the query has. */
  available: number;
  /** Entries read for this query so far, over every invocation (the stored offset). */
  fetched: number;
  /** Granules recorded as new by this invocation (already-known ones are not counted). */
  recorded: number;
  /** Entries the hub's filters or validation rejected in this invocation. */
  rejected: number;
  pages: number;
  /** A few rejected entries with their reasons, for the handler to log. */
  rejectedSample: RejectedEntry[];
}

/**
 * Pages a (day, platform) search from its stored offset, records each accepted granule (idempotent)
 * and the offset after each page, and stops before the deadline. An aborted signal stops the page in
 * flight (its retries included): the pages read before it are kept, and the next call asks it again.
 * @throws InvalidInputError on a bad option; HubThrottledError, HubUnavailableError, HubAuthError,
 *   InvalidHubDataError from the hub (progress up to the failed page is kept); HubUnavailableError when
 *   the signal stopped the call before any page was read (so a hub that never answers in time ends in
 *   the state machine's Retry, not in an endless page loop).
 */
export async function fetchPage(
  query: DayQuery,
  deps: FetchLinksDeps,
  options: FetchLinksOptions,
): Promise<FetchLinksResult> {
  options = { ...options };
  options.now ??= Date.now;
  if (!Number.isFinite(options.deadline)) {
    throw new InvalidInputError("options.deadline must be an epoch-ms number", { field: "deadline" });
  }
  const { hub, store } = deps;
  const { day, platform } = query;

  const progress = await store.getFetchProgress(day, platform);
  // A finished query is asked again from where it stopped: one cheap page tells whether the hub
  // published more for the day since (the day was still running, or the hub was catching up).
  let offset = progress?.nextOffset ?? 0;
  let available = progress?.available ?? 0;
  let finished = false;
  let recorded = 0;
  let rejected = 0;
  let pages = 0;
  const rejectedSample: RejectedEntry[] = [];
  // Paging must progress: a hub that ignores the offset serves one page forever, and the offset we
  // compute ourselves always advances, so the check looks at what the hub answered.
  const startOffset = offset;
  let previous: { offset: number; ids: Set<string> } | undefined;
  let largestPage = 1;

  while (options.now() < options.deadline && !options.signal?.aborted) {
    let page: SearchPage;
    try {
      page = await hub.listSearchPage(query, offset, { signal: options.signal });
    } catch (error) {
      // Out of time mid-page: the pages before it are recorded, the next invocation asks this one again.
      if (options.signal?.aborted && pages > 0) break;
      if (!options.signal?.aborted) throw error;
      throw new HubUnavailableError(
        `search ${day} ${platform}: no page from offset ${offset} within the invocation's time`,
        { cause: error },
      );
    }
    const ids = pageIds(page);
    if (previous !== undefined && ids.length > 0 && ids.every((id) => previous?.ids.has(id))) {
      throw new InvalidHubDataError(
        `search ${day} ${platform}: the page at offset ${offset} repeats the entries of the page at ${previous.offset} (the hub ignores the offset)`,
      );
    }
    previous = { offset, ids: new Set(ids) };
    largestPage = Math.max(largestPage, page.entriesOnPage);
    // What the hub says it has bounds the pages it takes; one more for entries published meanwhile.
    const maxPages = Math.ceil(Math.max(0, page.totalResults - startOffset) / largestPage) + 1;
    if (pages + 1 > maxPages) {
      throw new InvalidHubDataError(
        `search ${day} ${platform}: page ${pages + 1} from offset ${startOffset} exceeds the ${maxPages} pages ${page.totalResults} results need`,
      );
    }
    const recordedOnPage = await recordPage(page.granules, day, store);
    recorded += recordedOnPage;
    rejected += page.rejected.length;
    const filteredDelta: Partial<Record<FilterReason, number>> = {};
    for (const entry of page.rejected) filteredDelta[entry.filter] = (filteredDelta[entry.filter] ?? 0) + 1;
    for (const entry of page.rejected) {
      if (rejectedSample.length >= REJECTED_SAMPLE_SIZE) break;
      rejectedSample.push(entry);
    }
    const nextOffset = page.nextOffset ?? offset + page.entriesOnPage;
    if (page.nextOffset !== undefined && page.nextOffset <= offset) {
      // A hub that does not advance would loop this Lambda (and the state machine) forever.
      throw new InvalidHubDataError(
        `search ${day} ${platform}: next offset ${page.nextOffset} does not advance past ${offset}`,
      );
    }
    finished = page.nextOffset === undefined || page.entriesOnPage === 0;
    available = page.totalResults;
    await store.recordFetchProgress(day, platform, {
      available,
      fetchedDelta: nextOffset - offset,
      nextOffset,
      finished,
      filteredDelta,
      recordedDelta: recordedOnPage,
    });
    offset = nextOffset;
    pages += 1;
    if (finished) break;
  }

  return { day, platform, finished, available, fetched: offset, recorded, rejected, pages, rejectedSample };
}

/** The ids of a page's entries: the hub's list when it gives one, else those of its granules and rejections. */
function pageIds(page: SearchPage): string[] {
  if (page.entryIds !== undefined) return page.entryIds.filter((id) => id !== "");
  return [...page.granules.map((granule) => granule.granuleId), ...page.rejected.map((entry) => entry.id)];
}
