import { InvalidInputError } from "./errors";

/** Byte multipliers of the units a size may be written in (case-insensitive; a bare number is bytes). */
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses one size, `4MiB`, `1.5KiB`, `2MB` or `1000000`, into a positive byte count.
 * @param name what the message names (a CLI passes its flag, e.g. `--size`).
 * @throws InvalidInputError naming `name`.
 */
export function parseByteSize(text: string, name = "size"): number {
  const field = name.replace(/^-+/, "");
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const factor = SIZE_UNITS[(match?.[2] ?? "").toLowerCase() || "b"];
  if (match === null || factor === undefined) {
    throw new InvalidInputError(`${name}: ${text} is not a size like 4MiB`, { field });
  }
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes < 1) throw new InvalidInputError(`${name}: ${text} is not positive`, { field });
  return bytes;
}

/**
 * Parses a size (see parseByteSize) or a range of sizes, `2MiB-8MiB` or `2MiB..8MiB`, into bytes.
 * @throws InvalidInputError naming `name`.
 */
export function parseSize(text: string, name = "size"): number | { min: number; max: number } {
  const field = name.replace(/^-+/, "");
  const [low, high, ...rest] = text.split(/-|\.\./);
  if (rest.length > 0 || low === undefined)
    throw new InvalidInputError(`${name}: ${text} is not a size`, { field });
  if (high === undefined) return parseByteSize(low, name);
  const range = { min: parseByteSize(low, name), max: parseByteSize(high, name) };
  if (range.min > range.max) throw new InvalidInputError(`${name}: ${text}: min above max`, { field });
  return range;
}

/** Formats a byte count with binary units, e.g. `12.4 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
