import type { Credentials } from "./tokens";

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
};

/** Parses "1MiB", "512KiB", "2GiB", "1000" or a range "1MiB-4MiB" into bytes. */
export function parseSize(text: string): number | { min: number; max: number } {
  const parts = text.split("-");
  if (parts.length === 2) return { min: parseOneSize(parts[0] ?? ""), max: parseOneSize(parts[1] ?? "") };
  return parseOneSize(text);
}

function parseOneSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = SIZE_UNITS[(match?.[2] ?? "?").toLowerCase()];
  if (match === null || unit === undefined)
    throw new RangeError(`cannot read the size ${text} (e.g. 1MiB, 512KiB, 2GiB)`);
  return Math.round(Number(match[1]) * unit);
}

/** Parses "2026-11-24,2026-11-25" or a span "2026-11-20..2026-11-24" into days. */
export function parseDays(text: string): string[] {
  const span = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(text.trim());
  if (span === null)
    return text
      .split(",")
      .map((day) => day.trim())
      .filter((day) => day !== "");
  const days: string[] = [];
  const last = Date.parse(`${span[2]}T00:00:00Z`);
  for (let day = Date.parse(`${span[1]}T00:00:00Z`); day <= last; day += 86_400_000) {
    days.push(new Date(day).toISOString().slice(0, 10));
  }
  return days;
}

export function credentialsOf(
  username: string | undefined,
  password: string | undefined,
): Credentials | undefined {
  return username === undefined || username === "" ? undefined : { username, password: password ?? "" };
}
