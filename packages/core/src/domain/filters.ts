import { DAY_MS, isValidDay } from "./day";
import { InvalidHubDataError, InvalidInputError } from "./errors";
import type { DiscoveredGranule, Platform } from "./granule";

/**
 * The Sentinel-2 MSI product naming convention (compact form, since 2016), e.g.
 * `S2A_MSIL1C_20240101T101419_N0510_R022_T32TQM_20240101T105935[.SAFE]`: mission, product level,
 * sensing start, processing baseline, relative orbit, tile, product discriminator. Anchored, so a
 * name that matches holds no `/`, `..` or whitespace and is safe as an S3 key. The level is left
 * open (L1C, L2A, …) so a wrong-level entry is rejected by `evaluateGranule` with a reason rather
 * than reported as corrupt hub data.
 */
export const PRODUCT_NAME_PATTERN =
  /^(?<mission>S2[ABCD])_MSI(?<level>L[0-9][A-Z])_(?<sensingTime>\d{8}T\d{6})_N(?<baseline>\d{4})_R(?<relativeOrbit>\d{3})_T(?<tileId>\d{2}[A-Z]{3})_(?<discriminator>\d{8}T\d{6})(?:\.SAFE)?$/;

/** The parts of a product name, see PRODUCT_NAME_PATTERN. */
export interface ProductNameParts {
  mission: string;
  level: string;
  sensingTime: string;
  baseline: string;
  relativeOrbit: string;
  /** Without the leading "T", e.g. 32TQM. */
  tileId: string;
  discriminator: string;
}

/** Hub context attached to an InvalidHubDataError. */
export interface HubDataContext {
  granuleId?: string;
  url?: string;
}

// MGRS tile: UTM zone 01–60, latitude band C–X without I and O, a 100 km square of two letters
// without I and O. The hubs write it with (title) or without (tileid) a leading "T".
const TILE_ID_PATTERN = /^T?(\d{2})([C-HJ-NP-X][A-HJ-NP-Z]{2})$/;

/** The tile id in its canonical form (`32TQM`), or undefined when `value` is not an MGRS tile id. */
export function normalizeTileId(value: string): string | undefined {
  const match = TILE_ID_PATTERN.exec(value.trim().toUpperCase());
  if (match === null) return undefined;
  const zone = Number(match[1]);
  return zone >= 1 && zone <= 60 ? `${match[1]}${match[2]}` : undefined;
}

/** Splits a product name into its parts, or undefined when it does not follow the convention. */
export function parseProductName(name: string): ProductNameParts | undefined {
  const groups = PRODUCT_NAME_PATTERN.exec(name)?.groups;
  if (groups === undefined) return undefined;
  return {
    mission: groups["mission"]!,
    level: groups["level"]!,
    sensingTime: groups["sensingTime"]!,
    baseline: groups["baseline"]!,
    relativeOrbit: groups["relativeOrbit"]!,
    tileId: groups["tileId"]!,
    discriminator: groups["discriminator"]!,
  };
}

/** How many characters of an offending value an error message or a log line quotes. */
export const QUOTE_MAX_CHARS = 100;

/**
 * A value as an error message, a problem detail or a log line may quote it: JSON-quoted and cut to
 * `max` characters, saying how long it was. A hostile hub or push caller controls these values, and a
 * 200 kB field must not become a 200 kB answer or log line.
 */
export function quoteValue(value: unknown, max = QUOTE_MAX_CHARS): string {
  const text = typeof value === "string" ? value : String(value);
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(`${text.slice(0, max)}…`)} (${text.length} characters)`;
}

// RFC 3339 §5.6 date-time: full-date "T" full-time, where the time offset ("Z" or ±hh:mm) is
// mandatory; "T"/"Z" may be lower case (§5.6 NOTE). A leap second (:60) is refused: Date cannot hold it.
// Fractions stop at nanoseconds, so a 200 kB run of digits is not a timestamp.
const RFC3339_PATTERN =
  /^(\d{4}-\d{2}-\d{2})[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** True when `value` is an RFC 3339 timestamp with a time zone, on a real calendar day. */
export function isRfc3339Timestamp(value: string): boolean {
  const match = RFC3339_PATTERN.exec(value);
  return match !== null && isValidDay(match[1]!) && !Number.isNaN(Date.parse(value));
}

/**
 * Checks that a hub's product name follows the Sentinel-2 convention before it becomes a key.
 * @returns the name without `.SAFE`.
 * @throws InvalidHubDataError naming the offending value (path separators, `..`, whitespace, other shapes).
 */
export function assertSafeProductName(name: unknown, context: HubDataContext = {}): string {
  if (typeof name === "string" && PRODUCT_NAME_PATTERN.test(name)) {
    return name.endsWith(".SAFE") ? name.slice(0, -".SAFE".length) : name;
  }
  const where = context.granuleId === undefined ? "" : ` of granule ${context.granuleId}`;
  let why = "does not follow the Sentinel-2 product naming convention";
  if (typeof name !== "string") why = "is not a string";
  else if (name.includes("..")) why = 'contains ".."';
  else if (/[/\\]/.test(name)) why = "contains a path separator";
  else if (/\s/.test(name)) why = "contains whitespace";
  throw new InvalidHubDataError(`product name${where} ${quoteValue(name)} ${why}`, context);
}

/**
 * Turns a hub's MD5 (any case, optional surrounding whitespace) into 32 lowercase hex characters.
 * @throws InvalidHubDataError when the value is not 32 hex characters.
 */
export function normalizeMd5(value: unknown, context: HubDataContext = {}): string {
  const candidate = typeof value === "string" ? value.trim().toLowerCase() : undefined;
  if (candidate !== undefined && /^[0-9a-f]{32}$/.test(candidate)) return candidate;
  const where = context.granuleId === undefined ? "" : ` of granule ${context.granuleId}`;
  throw new InvalidHubDataError(`MD5${where} ${quoteValue(value)} is not 32 hexadecimal characters`, context);
}

/** What a search's granules must satisfy to be recorded. */
export interface FilterRules {
  /** Allowed tiles, `32TQM` or `T32TQM`; absent means every tile. */
  tiles?: ReadonlySet<string>;
  /** Oldest acquisition accepted, in days before the start of the publication day. */
  maxAcquisitionAgeDays: number;
  /** Publication day being fetched, YYYY-MM-DD. */
  day: string;
  /** Allowed platforms; absent means every platform. */
  platforms?: readonly Platform[];
}

/**
 * Why a search entry was not recorded, as counted per (day, platform): outside the tile allow-list,
 * not Level-1C, acquired too long before publication, a platform not asked for, a name unsafe as an
 * S3 key, or an entry that fails validation otherwise.
 */
export const FILTER_REASONS = ["tile", "level", "age", "platform", "unsafeName", "invalid"] as const;
export type FilterReason = (typeof FILTER_REASONS)[number];

export type FilterVerdict = { accepted: true } | { accepted: false; reason: string; filter: FilterReason };

/**
 * Decides whether a discovered granule is one the HLS chain wants: Level-1C, an allowed platform
 * and tile, and an acquisition no older than `maxAcquisitionAgeDays` before its publication day.
 * @throws InvalidInputError when the rules themselves are malformed.
 */
export function evaluateGranule(granule: DiscoveredGranule, rules: FilterRules): FilterVerdict {
  if (!isValidDay(rules.day)) {
    throw new InvalidInputError(`day must be YYYY-MM-DD, got ${quoteValue(rules.day)}`, { field: "day" });
  }
  if (!Number.isInteger(rules.maxAcquisitionAgeDays) || rules.maxAcquisitionAgeDays < 0) {
    throw new InvalidInputError(
      `maxAcquisitionAgeDays must be a non-negative integer, got ${rules.maxAcquisitionAgeDays}`,
      { field: "maxAcquisitionAgeDays" },
    );
  }
  if (!granule.name.includes("_MSIL1C_")) {
    return { accepted: false, reason: `not a Level-1C product: ${granule.name}`, filter: "level" };
  }
  if (rules.platforms !== undefined && !rules.platforms.includes(granule.platform)) {
    return { accepted: false, reason: `platform ${granule.platform} is not enabled`, filter: "platform" };
  }
  if (rules.tiles !== undefined) {
    const tile = normalizeTileId(granule.tileId);
    if (tile === undefined || !(rules.tiles.has(tile) || rules.tiles.has(`T${tile}`))) {
      return { accepted: false, reason: `tile ${granule.tileId} is not in the allow-list`, filter: "tile" };
    }
  }
  const sensed = Date.parse(granule.sensingStart);
  if (Number.isNaN(sensed)) {
    return {
      accepted: false,
      reason: `sensing start ${quoteValue(granule.sensingStart)} is not a timestamp`,
      filter: "invalid",
    };
  }
  // Measured from the publication day, not the clock, so a backfill judges a day as it was judged then.
  const cutoff = Date.parse(`${rules.day}T00:00:00.000Z`) - rules.maxAcquisitionAgeDays * DAY_MS;
  if (sensed < cutoff) {
    return {
      accepted: false,
      reason: `acquired ${granule.sensingStart}, more than ${rules.maxAcquisitionAgeDays} days before ${rules.day}`,
      filter: "age",
    };
  }
  return { accepted: true };
}
