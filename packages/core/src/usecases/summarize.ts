import type { GranuleStore } from "../adapters/store/store";
import { daysBetween } from "../domain/day";
import { ALL_PLATFORM_IDS, GRANULE_STATUSES, type GranuleRecord } from "../domain/granule";
import { type DayLatency, latencyStats } from "../domain/latency";
import {
  type DayTally,
  type SearchCounter,
  tallyOfDay,
  tallyOfWindow,
  type WindowSummary,
} from "../domain/tally";

export type TallyStore = Pick<GranuleStore, "listByStatus" | "getFetchProgress">;

/**
 * What a day's tally is made of: the granules the status index holds (every status) and the search
 * counter of each platform id the table may hold (26 GetItems, not the built-in list: S2D's count too),
 * in ALL_PLATFORM_IDS order.
 */
export async function readDay(
  day: string,
  deps: { store: TallyStore },
): Promise<{ granules: GranuleRecord[]; counters: (SearchCounter | undefined)[] }> {
  const [lists, counters] = await Promise.all([
    Promise.all(GRANULE_STATUSES.map((status) => deps.store.listByStatus(day, status))),
    readCounters(day, deps),
  ]);
  return { granules: lists.flat(), counters };
}

/** A day's search counters, one per ALL_PLATFORM_IDS entry (undefined where there is none). */
export function readCounters(
  day: string,
  deps: { store: Pick<TallyStore, "getFetchProgress"> },
): Promise<(SearchCounter | undefined)[]> {
  return Promise.all(ALL_PLATFORM_IDS.map((platform) => deps.store.getFetchProgress(day, platform)));
}

/**
 * Tallies one day per platform (see tallyOfDay): the granules the status index holds (items, not
 * COUNT queries: the index has no platform key and the failures need names) against the counter
 * items' recorded and filtered counts.
 * @throws InvalidInputError on a malformed day.
 */
export async function tallyDay(
  day: string,
  deps: { store: TallyStore },
  options: { now?: Date } = {},
): Promise<DayTally> {
  return (await readTallyAndLatency(day, deps, options)).tally;
}

/** One read of a day's index and counters: its tally and its publication → verified-object latency. */
async function readTallyAndLatency(
  day: string,
  deps: { store: TallyStore },
  options: { now?: Date },
): Promise<{ tally: DayTally; latency: DayLatency }> {
  const { granules, counters } = await readDay(day, deps);
  const downloaded = granules.filter((granule) => granule.status === "DOWNLOADED");
  return {
    tally: tallyOfDay(day, granules, counters, (options.now ?? new Date()).getTime()),
    latency: { day, ...latencyStats(downloaded) },
  };
}

/** A window's summary and, per day, the p50/p95/max latency of its downloaded granules. */
export type WindowSummaryWithLatency = WindowSummary & { latency: DayLatency[] };

/**
 * Tallies every day of a window (see tallyDay) and the window's totals, with each day's latency
 * figures from the same read: the execution's output, the source of its metrics, the local run's
 * summary and `ops status`.
 * @throws InvalidInputError on a bad window.
 */
export async function summarizeWindow(
  input: { from: string; to: string },
  deps: { store: TallyStore },
  options: { now?: Date } = {},
): Promise<WindowSummaryWithLatency> {
  const days: DayTally[] = [];
  const latency: DayLatency[] = [];
  for (const day of daysBetween(input.from, input.to)) {
    const read = await readTallyAndLatency(day, deps, options);
    days.push(read.tally);
    latency.push(read.latency);
  }
  return { ...tallyOfWindow(input.from, input.to, days), latency };
}

/** What a pushed-granules run's Summarize reports (WindowPlan.countWindow false). */
export interface WindowFailures {
  from: string;
  to: string;
  countWindow: false;
  /** The window's FAILED granules, whatever their attempts (the GranulesFailed metric, as a tally counts it). */
  failed: number;
}

/**
 * The FAILED granules of a window, from that one status of the index (a few items a day; a tally reads
 * every granule of every day): what a run started every minute publishes, the GranulesFailed alarm's
 * source. The window's other counts, its latency and the age come from the runs that count it whole.
 * @throws InvalidInputError on a bad window.
 */
export async function countWindowFailures(
  input: { from: string; to: string },
  deps: { store: Pick<TallyStore, "listByStatus"> },
): Promise<WindowFailures> {
  let failed = 0;
  for (const day of daysBetween(input.from, input.to)) {
    failed += (await deps.store.listByStatus(day, "FAILED")).length;
  }
  return { from: input.from, to: input.to, countWindow: false, failed };
}
