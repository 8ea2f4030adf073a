import type { GranuleStore } from "../adapters/store/store";
import { daysBetween } from "../domain/day";
import { ALL_PLATFORM_IDS, GRANULE_STATUSES, type GranuleRecord } from "../domain/granule";
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
  const { granules, counters } = await readDay(day, deps);
  return tallyOfDay(day, granules, counters, (options.now ?? new Date()).getTime());
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
  return tallyOfWindow(input.from, input.to, days);
}
