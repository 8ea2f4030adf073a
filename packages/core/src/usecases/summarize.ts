import type { GranuleStore } from "../adapters/store/store";
import { daysBetween } from "../domain/day";
import { ALL_PLATFORM_IDS, GRANULE_STATUSES } from "../domain/granule";
import { type DayLatency, latencyStats } from "../domain/latency";
import { type DayTally, tallyOfDay, tallyOfWindow, type WindowSummary } from "../domain/tally";

export type TallyStore = Pick<GranuleStore, "listByStatus" | "getFetchProgress">;

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
  return (await readDay(day, deps, options)).tally;
}

/** One read of a day's index and counters: its tally and its publication → verified-object latency. */
async function readDay(
  day: string,
  deps: { store: TallyStore },
  options: { now?: Date },
): Promise<{ tally: DayTally; latency: DayLatency }> {
  const nowMs = (options.now ?? new Date()).getTime();
  const [lists, progress] = await Promise.all([
    Promise.all(GRANULE_STATUSES.map((status) => deps.store.listByStatus(day, status))),
    // Every platform id the table may hold (26 GetItems), not the built-in list: S2D's counters count too.
    Promise.all(ALL_PLATFORM_IDS.map((platform) => deps.store.getFetchProgress(day, platform))),
  ]);
  const downloaded = lists[GRANULE_STATUSES.indexOf("DOWNLOADED")] ?? [];
  return {
    tally: tallyOfDay(day, lists.flat(), progress, nowMs),
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
    const read = await readDay(day, deps, options);
    days.push(read.tally);
    latency.push(read.latency);
  }
  return { ...tallyOfWindow(input.from, input.to, days), latency };
}
