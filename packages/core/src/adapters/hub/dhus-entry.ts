import * as v from "valibot";
import type { FilterReason } from "../../domain/filters";
import { isPlatform, type Platform } from "../../domain/granule";
import type { RejectedEntry } from "./hub";

// One DHuS search entry: its shape, the typed fields DhusHub requires, and the readers of their values.

// Product ids are DHuS UUIDs; anything that could break out of `Products('…')` or the path is refused.
export const GRANULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;

export const REQUIRED_FIELDS = [
  "filename",
  "size",
  "producttype",
  "platformserialidentifier",
  "beginposition",
  "endposition",
  "ingestiondate",
] as const;

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

const TypedField = v.object({ name: v.string(), content: v.union([v.string(), v.number()]) });
// A typed group is an array, or a lone object when it has one member (real answers send `double` so).
const TypedGroup = v.optional(v.union([v.array(TypedField), TypedField]));

export const SearchEntry = v.object({
  id: v.pipe(v.string(), v.regex(GRANULE_ID_PATTERN, "id is not a product UUID")),
  title: v.string(),
  summary: v.optional(v.string()),
  ondemand: v.optional(v.string()),
  link: v.optional(v.unknown()),
  str: TypedGroup,
  date: TypedGroup,
  int: TypedGroup,
  double: TypedGroup,
});

export function platformOf(serialIdentifier: string): Platform | undefined {
  const match = /^Sentinel-2([A-Z])$/.exec(serialIdentifier.trim());
  const platform = match === null ? undefined : `S2${match[1]}`;
  return isPlatform(platform) ? platform : undefined;
}

/** DHuS writes sizes for humans ("660.95 MB"); binary units, so the byte count is approximate. */
export function parseSize(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?B)$/i.exec(value.trim());
  const unit = match?.[2] === undefined ? undefined : SIZE_UNITS[match[2].toUpperCase()];
  if (match?.[1] === undefined || unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  // Beyond S3's largest object the product could never be stored (and the number would not survive DynamoDB).
  return bytes > MAX_PRODUCT_BYTES ? undefined : bytes;
}

/** S3's largest object, 5 TiB; a Sentinel-2 L1C product is about 1 GB. */
const MAX_PRODUCT_BYTES = 5 * 1024 ** 4;

export function rejectedEntry(
  entry: unknown,
  position: number,
  reason: string,
  filter: FilterReason = "invalid",
): RejectedEntry {
  const record = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>) : {};
  const id = typeof record["id"] === "string" ? record["id"] : `entry #${position}`;
  return typeof record["title"] === "string"
    ? { id, name: record["title"], reason, filter }
    : { id, reason, filter };
}
