/**
 * RFC 3339 date-time with a zone, as the hubs write them: DHuS `2024-07-09T08:44:52.873Z`, CDSE
 * `2024-07-09T08:44:52.873Z` in listings and `2024-07-09T08:45:31.631883Z` (microseconds) in
 * `ChecksumDate`, and `+00:00` instead of `Z` from some of its services. Fractions of any length
 * are accepted (milliseconds are kept); a zone is required, so a local time is never guessed.
 */
const HUB_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The instant a hub timestamp names, as an ISO-8601 UTC string with milliseconds, or undefined when
 * it is not an RFC 3339 date-time with a zone, or names a day the calendar lacks (2024-02-30).
 * `Date.parse` alone would take "1" for 2001-01-01 and roll February 30 over to March 1.
 */
export function hubTimestampToIso(value: string): string | undefined {
  const match = HUB_TIMESTAMP.exec(value.trim());
  if (match === null) return undefined;
  const [, year = "", month = "", day = "", hour = "", minute = "", second = ""] = match;
  const m = Number(month);
  const d = Number(day);
  const lastDay = new Date(Date.UTC(Number(year), m, 0)).getUTCDate();
  if (m < 1 || m > 12 || d < 1 || d > lastDay) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  const time = Date.parse(value.trim());
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}
