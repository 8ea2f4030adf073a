import { InvalidInputError } from "./errors";

/** One UTC day in milliseconds: the step of every publication-day window. */
export const DAY_MS = 86_400_000;

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** Parses a `YYYY-MM-DD` day into epoch ms at 00:00 UTC, or undefined when it is not a real calendar day. */
export function parseDay(value: string): number | undefined {
  if (!DAY_PATTERN.test(value)) return undefined;
  const ms = Date.parse(`${value}T00:00:00.000Z`);
  // Date.parse rolls 2024-02-30 over to March; a round trip catches days that do not exist.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) return undefined;
  return ms;
}

/** True when `value` is a real calendar day written YYYY-MM-DD. */
export function isValidDay(value: string): boolean {
  return parseDay(value) !== undefined;
}

/** The UTC day (YYYY-MM-DD) of an epoch-ms instant. */
export function formatDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC day before `now`, YYYY-MM-DD: the default daily window. */
export function yesterdayOf(now: Date): string {
  return formatDay(now.getTime() - DAY_MS);
}

/**
 * Every day from `from` to `to`, both included, as `YYYY-MM-DD`.
 * @throws InvalidInputError when a day is not a real date or `from` is after `to`.
 */
export function daysBetween(from: string, to: string): string[] {
  const start = parseDay(from);
  if (start === undefined)
    throw new InvalidInputError(`from: ${JSON.stringify(from)} is not a YYYY-MM-DD date`, { field: "from" });
  const end = parseDay(to);
  if (end === undefined)
    throw new InvalidInputError(`to: ${JSON.stringify(to)} is not a YYYY-MM-DD date`, { field: "to" });
  if (start > end) throw new InvalidInputError(`from ${from} is after to ${to}`, { field: "from" });
  const days: string[] = [];
  for (let ms = start; ms <= end; ms += DAY_MS) days.push(formatDay(ms));
  return days;
}

/** The `days` UTC days that end with the day of `now` (YYYY-MM-DD, oldest first): a horizon of recent days. */
export function recentDays(now: Date, days: number): string[] {
  const today = now.getTime();
  return daysBetween(formatDay(today - (days - 1) * DAY_MS), formatDay(today));
}
