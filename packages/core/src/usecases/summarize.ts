import type { GranuleStore } from "../adapters/store/store";
import { FILTER_REASONS, type FilterReason } from "../domain/filters";
import {
  GRANULE_STATUSES,
  type GranuleRecord,
  type GranuleStatus,
  PLATFORMS,
  type Platform,
} from "../domain/granule";
import { daysBetween } from "./generate-queries";

export type StatusCounts = Record<GranuleStatus, number>;

/**
 * What became of the granules of a (day, platform), a day or a window. Two identities hold, and
 * every reader (Summarize, the local summary, `ops status`) shows both:
 * found = recorded + filtered, and recorded = downloaded + failed + pending + missing.
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
  /** Recorded granules the status index does not show: lost, and the reason WriteManifest fails. */
  missing: number;
  /** FAILED granules by their last error's name, e.g. `{ GranuleGoneError: 2 }`. */
  failures: Record<string, number>;
  /** Bytes of the DOWNLOADED granules. */
  bytes: number;
}

export interface PlatformTally extends GranuleTally {
  platform: Platform;
  /** Results the hub reported for this day's search, when it was searched. */
  available?: number;
  searchFinished?: boolean;
}

export interface DayTally extends GranuleTally {
  day: string;
  /** The day's granules by status, as the index shows them. */
  counts: StatusCounts;
  /** Platforms with anything recorded, filtered or searched, in PLATFORMS order. */
  platforms: PlatformTally[];
}

export type DaySummary = DayTally;

export interface WindowSummary {
  from: string;
  to: string;
  days: DayTally[];
  totals: GranuleTally & { counts: StatusCounts };
}

export type TallyStore = Pick<GranuleStore, "listByStatus" | "getFetchProgress">;

function emptyCounts(): StatusCounts {
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
    missing: 0,
    failures: {},
    bytes: 0,
  };
}

/** Adds `source` into `target` (every count, every failure name, every filter reason) and returns `target`. */
export function addTally<T extends GranuleTally>(target: T, source: GranuleTally): T {
  for (const key of [
    "found",
    "recorded",
    "filtered",
    "downloaded",
    "failed",
    "pending",
    "stuck",
    "missing",
    "bytes",
  ] as const) {
    target[key] += source[key];
  }
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
  } else {
    tally.pending++;
    if (granule.status === "DOWNLOADING" && (granule.leaseExpiresAt ?? 0) < nowMs) tally.stuck++;
  }
}

/**
 * Tallies one day per platform: the granules the status index holds (items, not COUNT queries:
 * the index has no platform key and the failures need names) against the counter items' recorded
 * and filtered counts.
 * @throws InvalidInputError on a malformed day.
 */
export async function tallyDay(
  day: string,
  deps: { store: TallyStore },
  options: { now?: Date } = {},
): Promise<DayTally> {
  const nowMs = (options.now ?? new Date()).getTime();
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
  const [lists, progress] = await Promise.all([
    Promise.all(GRANULE_STATUSES.map((status) => deps.store.listByStatus(day, status))),
    Promise.all(PLATFORMS.map((platform) => deps.store.getFetchProgress(day, platform))),
  ]);
  GRANULE_STATUSES.forEach((status, i) => {
    for (const granule of lists[i] ?? []) {
      counts[status]++;
      countGranule(rowOf(granule.platform), granule, nowMs);
    }
  });
  PLATFORMS.forEach((platform, i) => {
    const counter = progress[i];
    if (counter === undefined) return;
    const row = rowOf(platform);
    if (counter.lastFetchAt !== "") {
      row.available = counter.available;
      row.searchFinished = counter.finished;
    }
    row.recorded = counter.recorded;
    for (const reason of FILTER_REASONS) row.filteredBy[reason] = counter.filtered[reason];
  });
  for (const row of byPlatform.values()) {
    const indexed = row.downloaded + row.failed + row.pending;
    // Granules recorded before the counters existed have none: the index is then the better count.
    row.missing = Math.max(0, row.recorded - indexed);
    row.recorded = Math.max(row.recorded, indexed);
    row.filtered = FILTER_REASONS.reduce((sum, reason) => sum + row.filteredBy[reason], 0);
    row.found = row.recorded + row.filtered;
  }
  const platforms = PLATFORMS.filter((p) => byPlatform.has(p)).map((p) => byPlatform.get(p)!);
  const tally = platforms.reduce<GranuleTally>(addTally, emptyTally());
  return { day, ...tally, counts, platforms };
}

/**
 * Tallies every day of a window (see tallyDay) and the window's totals: the execution's output,
 * the source of its metrics, the local run's summary and `ops status`.
 * @throws InvalidInputError on a bad window.
 */
export async function summarizeWindow(
  input: { from: string; to: string },
  deps: { store: TallyStore },
  options: { now?: Date } = {},
): Promise<WindowSummary> {
  const days: DayTally[] = [];
  for (const day of daysBetween(input.from, input.to)) days.push(await tallyDay(day, deps, options));
  const totals = { ...days.reduce<GranuleTally>(addTally, emptyTally()), counts: emptyCounts() };
  for (const day of days) for (const status of GRANULE_STATUSES) totals.counts[status] += day.counts[status];
  return { from: input.from, to: input.to, days, totals };
}
