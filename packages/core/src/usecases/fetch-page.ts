import { randomUUID } from "node:crypto";
import type { Hub, RejectedEntry, SearchPage } from "../adapters/hub/hub";
import type { FetchProgress, FetchProgressUpdate } from "../adapters/store/cursor";
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

/** Records a page's granules but those already read, RECORD_CONCURRENCY at a time; returns how many were new. */
async function recordPage(
  all: readonly DiscoveredGranule[],
  day: string,
  store: FetchLinksDeps["store"],
  isRead: (id: string) => boolean,
): Promise<number> {
  const granules = all.filter((granule) => !isRead(granule.granuleId));
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
  /** Entries read for this query so far, over every invocation (the stored count). */
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
 * and the cursor after each page, and stops before the deadline. Each page re-reads the previous
 * page's last `hub.pageOverlap` entries and tells new entries from old by id, so a product withdrawn
 * between two pages (every later offset shifts by one) or equal timestamps coming back in another
 * order never make it skip one. Each cursor write is conditional on the version it read, so a retried
 * write or a second fetcher of the same query never counts a page twice.
 * An aborted signal stops the page in flight (its retries included): the pages read before it are
 * kept, and the next call asks it again.
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
  const overlap = hub.pageOverlap ?? 0;
  const writer = randomUUID();

  // A finished query is asked again from where it stopped: one cheap page tells whether the hub
  // published more for the day since (the day was still running, or the hub was catching up).
  let cursor = await store.getFetchProgress(day, platform);
  let finished = false;
  let recorded = 0;
  let rejected = 0;
  let pages = 0;
  const rejectedSample: RejectedEntry[] = [];
  // Paging must progress: a hub that ignores the offset serves one page forever, and the offset we
  // compute ourselves always advances, so the check looks at what the hub answered.
  let startOffset: number | undefined;
  let previous: { offset: number; ids: Set<string> } | undefined;
  let largestPage = 1;
  // Each request starts past the one before: after a page that did not move the cursor (the end of
  // a CDSE window re-read), the next one re-reads nothing.
  let rereadLimit = overlap;

  while (options.now() < options.deadline && !options.signal?.aborted) {
    const tail = overlap > 0 ? (cursor?.tail ?? []).slice(-TAIL_MEMORY * overlap) : [];
    const reread = Math.min(overlap, tail.length, rereadLimit);
    let read: Awaited<ReturnType<typeof readPage>>;
    try {
      read = await readPage(
        query,
        hub,
        { nextOffset: cursor?.nextOffset ?? 0, reread, tail },
        options.signal,
      );
    } catch (error) {
      // Out of time mid-page: the pages before it are recorded, the next invocation asks this one again.
      if (options.signal?.aborted && pages > 0) break;
      if (!options.signal?.aborted) throw error;
      throw new HubUnavailableError(
        `search ${day} ${platform}: no page from offset ${cursor?.nextOffset ?? 0} within the invocation's time`,
        { cause: error },
      );
    }
    const { page, offset, ids } = read;
    startOffset ??= offset;
    if (previous !== undefined && ids.length > reread && ids.every((id) => previous?.ids.has(id))) {
      throw new InvalidHubDataError(
        `search ${day} ${platform}: the page at offset ${offset} repeats the entries of the page at ${previous.offset} (the hub ignores the offset)`,
      );
    }
    previous = { offset, ids: new Set(ids) };
    largestPage = Math.max(largestPage, page.entriesOnPage);
    // What the hub says it has bounds the pages it takes; one more for entries published meanwhile.
    const maxPages =
      Math.ceil(Math.max(0, page.totalResults - startOffset) / Math.max(1, largestPage - overlap)) + 1;
    if (pages + 1 > maxPages) {
      throw new InvalidHubDataError(
        `search ${day} ${platform}: page ${pages + 1} from offset ${startOffset} exceeds the ${maxPages} pages ${page.totalResults} results need`,
      );
    }
    // Every entry the tail does not hold is recorded (a put of a known granule changes nothing).
    const recordedOnPage = await recordPage(page.granules, day, store, read.isRead);
    recorded += recordedOnPage;
    const newRejections = page.rejected.filter((entry) => read.isNew(entry.id));
    rejected += newRejections.length;
    const filteredDelta: Partial<Record<FilterReason, number>> = {};
    for (const entry of newRejections) filteredDelta[entry.filter] = (filteredDelta[entry.filter] ?? 0) + 1;
    for (const entry of newRejections) {
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
    rereadLimit = nextOffset > (cursor?.nextOffset ?? 0) ? nextOffset - offset - 1 : 0;
    const onPage = new Set(ids);
    const nextTail = [...tail.filter((id) => !onPage.has(id)), ...ids].slice(-TAIL_MEMORY * overlap);
    cursor = await writeCursor(store, query, cursor, writer, pages, {
      available: page.totalResults,
      fetchedDelta: ids.filter(read.isNew).length,
      nextOffset,
      finished,
      filteredDelta,
      recordedDelta: recordedOnPage,
      ...(overlap > 0 && { tail: nextTail }),
    });
    finished = cursor.finished;
    pages += 1;
    if (finished) break;
  }

  const fetched = cursor?.fetched ?? 0;
  const available = cursor?.available ?? 0;
  return { day, platform, finished, available, fetched, recorded, rejected, pages, rejectedSample };
}

/**
 * Ids the cursor remembers, in overlaps: the next page re-reads one overlap, and a reordered tie or a
 * withdrawal can move an entry read before that into it, which must still count as read.
 */
const TAIL_MEMORY = 2;

/** A page read from `nextOffset` less the overlap, and which of its entries are new. */
interface ReadPage {
  page: SearchPage;
  offset: number;
  ids: string[];
  /** Entries new to this query: counted as read and filtered. */
  isNew: (id: string) => boolean;
  /** Entries the previous pages read (the tail): not recorded again. */
  isRead: (id: string) => boolean;
}

/**
 * Reads the page that starts `reread` entries before `nextOffset`. When none of the tail comes back,
 * more products were withdrawn than the overlap covers: it steps back a page, once; when the page is
 * empty and the hub's total is below `nextOffset`, back to the start.
 */
async function readPage(
  query: DayQuery,
  hub: Hub,
  cursor: { nextOffset: number; reread: number; tail: readonly string[] },
  signal: AbortSignal | undefined,
): Promise<ReadPage> {
  const { nextOffset, reread, tail } = cursor;
  const read = new Set(tail);
  let offset = Math.max(0, nextOffset - reread);
  let page = await hub.listSearchPage(query, offset, { signal });
  let ids = pageIds(page);
  let steppedBack = false;
  // An empty page although the hub holds fewer entries than the cursor passed: it withdrew more than
  // a page re-reads, so products published since sit before the stored offset, at places the cursor
  // cannot tell. The query is read again from the start (recording is idempotent).
  const shrunk = offset > 0 && ids.length === 0 && page.totalResults < nextOffset;
  if (shrunk || (reread > 0 && offset > 0 && ids.length > 0 && !ids.some((id) => read.has(id)))) {
    offset = shrunk ? 0 : Math.max(0, offset - Math.max(page.entriesOnPage, reread));
    page = await hub.listSearchPage(query, offset, { signal });
    ids = pageIds(page);
    steppedBack = true;
  }
  const anchor = ids.findLastIndex((id) => read.has(id));
  // New: what the tail does not hold (a tie the hub reordered puts a new entry before the last re-read
  // one). After a step back, only what follows the anchor; without one, what follows the old offset.
  const firstNew = anchor >= 0 ? (steppedBack ? anchor + 1 : 0) : tail.length === 0 ? 0 : nextOffset - offset;
  const fresh = new Set(ids.slice(Math.max(0, firstNew)).filter((id) => !read.has(id)));
  return { page, offset, ids, isNew: (id) => fresh.has(id), isRead: (id) => read.has(id) };
}

/**
 * Writes one page's step, conditional on the cursor version read before it. When another fetcher of
 * the query wrote first, its counts stand and this one adds only the granules it recorded itself.
 */
async function writeCursor(
  store: FetchLinksDeps["store"],
  query: DayQuery,
  cursor: FetchProgress | undefined,
  writer: string,
  page: number,
  update: Omit<FetchProgressUpdate, "expectedVersion" | "writeId">,
): Promise<FetchProgress> {
  const { day, platform } = query;
  let step = update;
  let expected = cursor;
  for (let attempt = 0; attempt < CURSOR_WRITE_ROUNDS; attempt++) {
    const writeId = `${writer}:${page}:${attempt}`;
    const now = await store.recordFetchProgress(day, platform, {
      ...step,
      expectedVersion: expected?.version ?? 0,
      writeId,
    });
    // A store without versions (test doubles) applies every write.
    if (now.version === undefined || now.writeId === writeId) return now;
    if (!step.recordedDelta) return now;
    // Superseded: keep the other fetcher's cursor and counts, add our recorded granules to them.
    expected = now;
    step = {
      available: now.available,
      fetchedDelta: 0,
      nextOffset: now.nextOffset,
      finished: now.finished,
      recordedDelta: step.recordedDelta,
      ...(now.tail !== undefined && { tail: now.tail }),
    };
  }
  // Still racing: the granules are stored; only their count is short (never a false alarm).
  return (await store.getFetchProgress(day, platform)) ?? (cursor as FetchProgress);
}

/** Conditional cursor writes a page makes before it leaves its count to the index. */
const CURSOR_WRITE_ROUNDS = 3;

/** The ids of a page's entries: the hub's list when it gives one, else those of its granules and rejections. */
function pageIds(page: SearchPage): string[] {
  if (page.entryIds !== undefined) return page.entryIds.filter((id) => id !== "");
  return [...page.granules.map((granule) => granule.granuleId), ...page.rejected.map((entry) => entry.id)];
}
