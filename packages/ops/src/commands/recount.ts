import { isValidDay } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import type { GranuleStore, PlatformRecount } from "@hls-s2/core/store";

export interface RecountResult {
  day: string;
  /** Each (day, platform) counter with granules or a count: `recorded` before and after. */
  platforms: PlatformRecount[];
}

/**
 * Sets a day's per-platform `recorded` counters to the granules its status index holds: the repair for
 * a count an older release applied twice. Safe to repeat and to run beside a workflow (each write is
 * conditional on the value it read); the search's fetched and filtered counts stay as they are.
 * @throws InvalidInputError on a bad day.
 */
export async function recount(
  input: { day: string | undefined },
  deps: { store: Pick<GranuleStore, "recountDay"> },
): Promise<RecountResult> {
  const { day } = input;
  if (typeof day !== "string" || !isValidDay(day)) {
    throw new InvalidInputError(`--day must be a real YYYY-MM-DD day, got ${String(day)}`, { field: "day" });
  }
  return { day, platforms: await deps.store.recountDay(day) };
}

/** One line per platform: what the counter said and what the index holds. */
export function formatRecount(result: RecountResult): string {
  if (result.platforms.length === 0) return `${result.day}: no granules and no counts`;
  return result.platforms
    .map(({ platform, before, after }) =>
      before === after
        ? `${result.day} ${platform}: ${after} recorded, as the index holds`
        : `${result.day} ${platform}: recorded ${before} → ${after} (the index holds ${after})`,
    )
    .join("\n");
}
