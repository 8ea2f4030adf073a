import { FILTER_REASONS, type FilterReason } from "./filters";
import {
  ALL_PLATFORM_IDS,
  GRANULE_STATUSES,
  type GranuleRecord,
  type GranuleStatus,
  type Platform,
} from "./granule";

export type StatusCounts = Record<GranuleStatus, number>;

/**
 * What became of the granules of a (day, platform), a day or a window. Two identities hold, and
 * every reader (Summarize, the local summary, `ops status`) shows both:
 * found = recorded + filtered, and recorded = downloaded + failed + pending + duplicates + missing.
 */
export interface GranuleTally {
  /** Entries the hub listed that were judged: recorded + filtered. */
  found: number;
  /** Granules stored in the table, from the counter items (never fewer than the index shows). */
  recorded: number;
  /** Entries not recorded, in total and by reason. */
  filtered: number;
  filteredBy: Record<FilterReason, number>;
  downloaded: number;
  failed: number;
  /** DISCOVERED or DOWNLOADING: not finished either way. */
  pending: number;
  /** DOWNLOADING whose lease expired: its worker is gone (the next run or a requeue picks these up). */
  stuck: number;
  /** DUPLICATE: another id of the same product name holds the object key; never downloaded. */
  duplicates: number;
  /** Each duplicate with the id it duplicates (both ids, for an operator). */
  duplicateIds: { granuleId: string; duplicateOf: string }[];
  /** Recorded granules the status index does not show: lost, and the reason WriteManifest fails. */
  missing: number;
  /** FAILED granules by their last error's name, e.g. `{ GranuleGoneError: 2 }`. */
  failures: Record<string, number>;
  /** Bytes of the DOWNLOADED granules. */
  bytes: number;
}

/** The tally's counts, in the order its readers show them (found = filtered + recorded, …). */
export const TALLY_COUNT_KEYS = [
  "found",
  "filtered",
  "recorded",
  "downloaded",
  "failed",
  "pending",
  "stuck",
  "missing",
  "bytes",
] as const satisfies readonly (keyof GranuleTally)[];

export interface PlatformTally extends GranuleTally {
  platform: Platform;
  /** Results the hub reported for this day's search (its count: DHuS totalResults, CDSE `@odata.count`), when it was searched. */
  available?: number;
  /** When the hub last reported `available` (ISO): after the day's end, it is the count of the closed day. */
  availableAt?: string;
  searchFinished?: boolean;
  /** The search's failure for good, while no page was read after it. */
  searchFailure?: QueryFailure;
}

export interface DayTally extends GranuleTally {
  day: string;
  /** The day's granules by status, as the index shows them. */
  counts: StatusCounts;
  /** Platforms with anything recorded, filtered or searched (any S2[A-Z], S2D included), in id order. */
  platforms: PlatformTally[];
}

export interface WindowSummary {
  from: string;
  to: string;
  days: DayTally[];
  totals: GranuleTally & { counts: StatusCounts };
  /** The window's searches that failed for good and were not read since (the QueriesFailed metric). */
  failedQueries: FailedQuery[];
}

/** A (day, platform)'s search counter, as the store keeps it: what the hub reported and what was recorded. */
export interface SearchCounter {
  available: number;
  finished: boolean;
  /** Empty until the day's search ran (a counter may exist from pushes alone). */
  lastFetchAt: string;
  recorded: number;
  filtered: Record<FilterReason, number>;
  /** The search's last failure for good, if it ever failed. */
  failure?: QueryFailure;
}

/** A (day, platform) search that failed for good: the error Step Functions caught, and when. */
export interface QueryFailure {
  /** The error name (one of ours, or Lambda.Unknown for a function killed at its timeout). */
  error: string;
  /** What the error said (Lambda's errorMessage when the cause is Lambda's JSON), cut to MAX_CAUSE_CHARS. */
  cause: string;
  /** ISO time of the record: the search failed after every page recorded before it (lastFetchAt). */
  at: string;
  executionName?: string;
}

/** A failed search as a window's summary lists it. */
export interface FailedQuery extends QueryFailure {
  day: string;
  platform: Platform;
}

/** True while a search's recorded failure is its latest news: no page was read after it. */
export function isQueryFailed(counter: Pick<SearchCounter, "failure" | "lastFetchAt">): boolean {
  return counter.failure !== undefined && counter.failure.at >= counter.lastFetchAt;
}

/** Zero granules in every status. */
export function emptyCounts(): StatusCounts {
  return Object.fromEntries(GRANULE_STATUSES.map((status) => [status, 0])) as StatusCounts;
}

/** A tally of nothing. */
export function emptyTally(): GranuleTally {
  return {
    found: 0,
    recorded: 0,
    filtered: 0,
    filteredBy: Object.fromEntries(FILTER_REASONS.map((reason) => [reason, 0])) as Record<
      FilterReason,
      number
    >,
    downloaded: 0,
    failed: 0,
    pending: 0,
    stuck: 0,
    duplicates: 0,
    duplicateIds: [],
    missing: 0,
    failures: {},
    bytes: 0,
  };
}

/** Adds `source` into `target` (every count, every failure name, every filter reason) and returns `target`. */
export function addTally<T extends GranuleTally>(target: T, source: GranuleTally): T {
  for (const key of TALLY_COUNT_KEYS) target[key] += source[key];
  // Duplicates are rare: readers show them on their own line (with both ids), not as a column.
  target.duplicates += source.duplicates;
  target.duplicateIds.push(...source.duplicateIds);
  for (const reason of FILTER_REASONS) target.filteredBy[reason] += source.filteredBy[reason];
  for (const [name, n] of Object.entries(source.failures)) {
    target.failures[name] = (target.failures[name] ?? 0) + n;
  }
  return target;
}

function countGranule(tally: GranuleTally, granule: GranuleRecord, nowMs: number): void {
  if (granule.status === "DOWNLOADED") {
    tally.downloaded++;
    tally.bytes += granule.bytesWritten ?? 0;
  } else if (granule.status === "FAILED") {
    tally.failed++;
    const name = granule.lastError?.name ?? "Unknown";
    tally.failures[name] = (tally.failures[name] ?? 0) + 1;
  } else if (granule.status === "DUPLICATE") {
    tally.duplicates++;
    tally.duplicateIds.push({ granuleId: granule.granuleId, duplicateOf: granule.duplicateOf ?? "" });
  } else {
    tally.pending++;
    if (granule.status === "DOWNLOADING" && (granule.leaseExpiresAt ?? 0) < nowMs) tally.stuck++;
  }
}

/**
 * The tally of one day per platform: the granules the status index holds (with their names, so
 * failures are named) against the search counters' recorded and filtered counts.
 * @param counters one per ALL_PLATFORM_IDS entry (S2A, S2B, …), in its order; undefined where there is none.
 */
export function tallyOfDay(
  day: string,
  granules: Iterable<GranuleRecord>,
  counters: readonly (SearchCounter | undefined)[],
  nowMs: number,
): DayTally {
  const byPlatform = new Map<Platform, PlatformTally>();
  const rowOf = (platform: Platform) => {
    let row = byPlatform.get(platform);
    if (row === undefined) {
      row = { platform, ...emptyTally() };
      byPlatform.set(platform, row);
    }
    return row;
  };
  const counts = emptyCounts();
  for (const granule of granules) {
    counts[granule.status]++;
    countGranule(rowOf(granule.platform), granule, nowMs);
  }
  ALL_PLATFORM_IDS.forEach((platform, i) => {
    const counter = counters[i];
    if (counter === undefined) return;
    const row = rowOf(platform);
    if (counter.lastFetchAt !== "") {
      row.available = counter.available;
      row.availableAt = counter.lastFetchAt;
      row.searchFinished = counter.finished;
    }
    if (isQueryFailed(counter)) row.searchFailure = counter.failure;
    row.recorded = counter.recorded;
    for (const reason of FILTER_REASONS) row.filteredBy[reason] = counter.filtered[reason];
  });
  for (const row of byPlatform.values()) {
    const indexed = row.downloaded + row.failed + row.pending + row.duplicates;
    // Granules recorded before the counters existed have none: the index is then the better count.
    row.missing = Math.max(0, row.recorded - indexed);
    row.recorded = Math.max(row.recorded, indexed);
    row.filtered = FILTER_REASONS.reduce((sum, reason) => sum + row.filteredBy[reason], 0);
    row.found = row.recorded + row.filtered;
  }
  // Every platform the day holds, not only the built-in list: a granule of S2D counts like any other.
  const platforms = [...byPlatform.keys()].sort().map((p) => byPlatform.get(p)!);
  const tally = platforms.reduce<GranuleTally>(addTally, emptyTally());
  return { day, ...tally, counts, platforms };
}

/** A window's summary from its days' tallies: the days and their totals (counts by status included). */
export function tallyOfWindow(from: string, to: string, days: DayTally[]): WindowSummary {
  const totals = { ...days.reduce<GranuleTally>(addTally, emptyTally()), counts: emptyCounts() };
  for (const day of days) for (const status of GRANULE_STATUSES) totals.counts[status] += day.counts[status];
  const failedQueries = days.flatMap(({ day, platforms }) =>
    platforms.flatMap(({ platform, searchFailure }) =>
      searchFailure === undefined ? [] : [{ day, platform, ...searchFailure }],
    ),
  );
  return { from, to, days, totals, failedQueries };
}
