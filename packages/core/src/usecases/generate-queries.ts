import { DEFAULT_LOOKBACK_DAYS } from "../config/runtime";
import { DAY_MS, daysBetween, formatDay, parseDay } from "../domain/day";
import { InvalidInputError } from "../domain/errors";
import { isPlatform, PLATFORMS, type Platform } from "../domain/granule";

/** A backfill spans at most this many days: one execution's manifest and Map stay a day's order of size. */
export const MAX_WINDOW_DAYS = 31;

/** What an execution was started with: `{}` from the schedule, a range and platforms for a backfill. */
export interface WindowInput {
  from?: string;
  to?: string;
  platforms?: string[];
  downloadOnly?: boolean;
  /**
   * The continuous mode's incremental poll: yesterday's and today's publications searched from their
   * stored cursors, nothing downloaded (the next pushed-granules run, within a minute, downloads what it
   * records).
   */
  poll?: boolean;
  /** ISO time: the manifest lists only granules recorded at or after it (a pushed-granules run's share). */
  recordedSince?: string;
}

export interface PlanWindowOptions {
  /** The run's "today" (UTC); the default window ends the day before. */
  today?: Date;
  /** How many days before today the default window covers. */
  lookbackDays?: number;
  /** Platforms searched when the input names none. */
  platforms?: readonly Platform[];
  downloadsEnabled?: boolean;
}

/** One search of the FetchLinks Map: a publication day for one platform. */
export interface DayQuery {
  day: string;
  platform: Platform;
}

/** The execution's plan (`$.plan` in the state machine). */
export interface WindowPlan {
  from: string;
  to: string;
  days: string[];
  queries: DayQuery[];
  fetchLinks: boolean;
  downloadsEnabled: boolean;
  /** WindowInput.recordedSince, normalized; null: every pending granule of the window and horizon. */
  recordedSince: string | null;
  /**
   * Whether Summarize counts the whole window (upload sweep, tally, age, closed days). False for a
   * pushed-granules run (download-only over the default window, started as often as every minute):
   * its Summarize counts the window's FAILED granules only, and leaves the rest to the runs that
   * publish it — the poll (yesterday and today), the daily run and the age report.
   */
  countWindow: boolean;
}

/**
 * Plans an execution: the window of publication days (default the `lookbackDays` days before today,
 * UTC) and one query per day and platform.
 * @throws InvalidInputError naming the field of a bad backfill (unreal date, from after to, more than
 *   31 days, a day after today, unknown platform) or of a bad option.
 */
export function planWindow(input: WindowInput, options: PlanWindowOptions = {}): WindowPlan {
  // A copy, so filling defaults never mutates the caller's object.
  options = { ...options };
  options.today ??= new Date();
  options.lookbackDays ??= DEFAULT_LOOKBACK_DAYS;
  options.platforms ??= PLATFORMS;
  options.downloadsEnabled ??= true;
  if (Number.isNaN(options.today.getTime())) {
    throw new InvalidInputError("options.today is not a valid date", { field: "today" });
  }
  if (
    !Number.isInteger(options.lookbackDays) ||
    options.lookbackDays < 1 ||
    options.lookbackDays > MAX_WINDOW_DAYS
  ) {
    throw new InvalidInputError(`options.lookbackDays must be an integer in 1..${MAX_WINDOW_DAYS}`, {
      field: "lookbackDays",
    });
  }

  const todayMs = parseDay(formatDay(options.today.getTime())) as number;
  const recordedSince = checkRecordedSince(input);
  let from: string;
  let to: string;
  if (input.poll === true) {
    if (input.from !== undefined || input.to !== undefined || input.downloadOnly === true) {
      throw new InvalidInputError("poll takes neither from/to nor downloadOnly", { field: "poll" });
    }
    from = formatDay(todayMs - DAY_MS);
    to = formatDay(todayMs);
  } else if (input.from === undefined && input.to === undefined) {
    from = formatDay(todayMs - options.lookbackDays * DAY_MS);
    // A download-only run (the run for pushed granules) also covers today: it fetches no
    // links, it downloads what push notifications recorded on today's publication day.
    to = formatDay(input.downloadOnly === true ? todayMs : todayMs - DAY_MS);
  } else {
    // One bound alone means that single day: the common "redo the day we missed" backfill.
    from = input.from ?? (input.to as string);
    to = input.to ?? from;
  }
  const days = daysBetween(from, to);
  if (days.length > MAX_WINDOW_DAYS) {
    throw new InvalidInputError(
      `window ${from}..${to} has ${days.length} days, more than ${MAX_WINDOW_DAYS}`,
      {
        field: "to",
      },
    );
  }
  // Today's publications are still arriving (fine to fetch); a future day can have none.
  if ((parseDay(to) as number) > todayMs) {
    throw new InvalidInputError(`to ${to} is after today ${formatDay(todayMs)}`, { field: "to" });
  }

  const platforms = input.platforms === undefined ? [...options.platforms] : checkPlatforms(input.platforms);
  const queries = days.flatMap((day) => platforms.map((platform) => ({ day, platform })));
  return {
    from,
    to,
    days,
    queries,
    fetchLinks: input.downloadOnly !== true,
    downloadsEnabled: options.downloadsEnabled && input.poll !== true,
    recordedSince,
    countWindow: !(input.downloadOnly === true && input.from === undefined && input.to === undefined),
  };
}

function checkRecordedSince(input: WindowInput): string | null {
  if (input.recordedSince === undefined) return null;
  const at = Date.parse(input.recordedSince);
  if (Number.isNaN(at)) {
    throw new InvalidInputError(`recordedSince must be an ISO timestamp, got ${input.recordedSince}`, {
      field: "recordedSince",
    });
  }
  return new Date(at).toISOString();
}

function checkPlatforms(platforms: string[]): Platform[] {
  if (platforms.length === 0) throw new InvalidInputError("platforms is empty", { field: "platforms" });
  const unknown = platforms.filter((p) => !isPlatform(p));
  if (unknown.length > 0) {
    throw new InvalidInputError(`unknown platforms ${unknown.join(", ")}; known: ${PLATFORMS.join(", ")}`, {
      field: "platforms",
    });
  }
  return [...new Set(platforms as Platform[])];
}
