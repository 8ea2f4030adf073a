import * as v from "valibot";
import { describeIssues, InvalidHubDataError, InvalidInputError } from "../../../domain/errors";
import {
  assertSafeProductName,
  evaluateGranule,
  type FilterReason,
  type FilterRules,
  normalizeMd5,
  normalizeTileId,
  parseProductName,
  quoteValue,
} from "../../../domain/filters";
import { type DiscoveredGranule, isPlatform } from "../../../domain/granule";
import type { SearchQuery } from "../hub";
import { hubTimestampToIso } from "../timestamp";

// CDSE ids are UUIDs; anything else must not be spliced into `Products(<id>)`.
const PRODUCT_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z-]{0,63}$/;

const TIMESTAMP = v.pipe(
  v.string(),
  v.check((value) => hubTimestampToIso(value) !== undefined, "is not an RFC 3339 timestamp with a zone"),
);

const CHECKSUM_SCHEMA = v.optional(
  v.array(v.looseObject({ Algorithm: v.optional(v.string()), Value: v.optional(v.unknown()) })),
);

/** A CDSE catalogue product, as the search lists it and a push notification carries it (receive-push.ts). */
export const CDSE_PRODUCT_SCHEMA = v.looseObject({
  Id: v.pipe(v.string(), v.regex(PRODUCT_ID_PATTERN, "is not a product id")),
  Name: v.string(),
  ContentLength: v.pipe(v.number(), v.safeInteger(), v.minValue(1, "is not a positive size")),
  PublicationDate: TIMESTAMP,
  ContentDate: v.looseObject({ Start: TIMESTAMP, End: TIMESTAMP }),
  Checksum: CHECKSUM_SCHEMA,
  // CDSE lists products not yet (or no longer) served from its online storage with Online: false.
  Online: v.optional(v.boolean()),
  Attributes: v.optional(v.array(v.looseObject({ Name: v.string(), Value: v.optional(v.unknown()) }))),
});

/** What `Products(<id>)` answers that the checksum needs. */
export const CDSE_PRODUCT_CHECKSUM_SCHEMA = v.looseObject({
  Checksum: CHECKSUM_SCHEMA,
  Online: v.optional(v.boolean()),
});

export type CdseProduct = v.InferOutput<typeof CDSE_PRODUCT_SCHEMA>;

/** A listed entry as a granule to record, or why it is not one (validation or a filter). */
export type CdseEntryOutcome =
  | { granule: DiscoveredGranule }
  | { id?: string; name?: string; reason: string; filter?: FilterReason };

/**
 * A validated catalogue product as the granule it names.
 * @throws InvalidHubDataError (unsafe name, unknown platform, tile id not MGRS).
 */
export function cdseProductToGranule(product: CdseProduct): DiscoveredGranule {
  const context = { granuleId: product.Id };
  const name = assertSafeProductName(product.Name, context);
  const parts = parseProductName(name);
  const attribute = (wanted: string) => {
    const value = product.Attributes?.find((a) => a.Name === wanted)?.Value;
    return typeof value === "string" ? value : undefined;
  };
  const serial = attribute("platformSerialIdentifier");
  const platform = serial === undefined ? parts?.mission : `S2${serial.toUpperCase()}`;
  if (!isPlatform(platform))
    throw new InvalidHubDataError(`product ${product.Id}: unknown platform ${quoteValue(platform)}`, context);
  const tileAttribute = attribute("tileId");
  const tileId = normalizeTileId(tileAttribute ?? parts?.tileId ?? "");
  if (tileId === undefined)
    throw new InvalidHubDataError(
      `product ${product.Id}: tile id ${quoteValue(tileAttribute)} is not MGRS`,
      context,
    );
  const granule: DiscoveredGranule = {
    granuleId: product.Id,
    name,
    tileId,
    platform,
    sensingStart: isoOf(product.ContentDate.Start),
    sensingEnd: isoOf(product.ContentDate.End),
    publishedAt: isoOf(product.PublicationDate),
    sizeBytes: product.ContentLength,
  };
  const md5 = cdseMd5Of(product.Checksum);
  if (md5 !== undefined) {
    try {
      granule.md5 = normalizeMd5(md5, context);
    } catch {
      // A malformed listing MD5 is not a reason to lose the granule: getChecksum asks again before download.
    }
  }
  return granule;
}

/** One entry of a search page, validated, checked against its query's platform and filtered. */
export function cdseEntryToGranule(
  entry: unknown,
  query: SearchQuery,
  filterRules: Omit<FilterRules, "day">,
): CdseEntryOutcome {
  const looseId = typeof entry === "object" && entry !== null ? (entry as { Id?: unknown }).Id : undefined;
  const looseName =
    typeof entry === "object" && entry !== null ? (entry as { Name?: unknown }).Name : undefined;
  const id = typeof looseId === "string" ? looseId : undefined;
  const name = typeof looseName === "string" ? looseName : undefined;
  const parsed = v.safeParse(CDSE_PRODUCT_SCHEMA, entry);
  if (!parsed.success) return { id, name, reason: `invalid entry: ${describeIssues(parsed.issues)}` };
  const product = parsed.output;
  try {
    assertSafeProductName(product.Name, { granuleId: product.Id });
  } catch (error) {
    return {
      id,
      name,
      reason: error instanceof Error ? error.message : String(error),
      filter: "unsafeName",
    };
  }
  let granule: DiscoveredGranule;
  try {
    granule = cdseProductToGranule(product);
  } catch (error) {
    return { id, name, reason: error instanceof Error ? error.message : String(error) };
  }
  if (granule.platform !== query.platform)
    return {
      id,
      name,
      reason: `platform ${granule.platform} listed in a search for ${query.platform}`,
      filter: "platform",
    };
  const verdict = evaluateGranule(granule, { ...filterRules, day: query.day });
  if (!verdict.accepted) return { id, name, reason: verdict.reason, filter: verdict.filter };
  return { granule };
}

/** The MD5 among a product's `Checksum[]`, as published (unchecked), or undefined when not yet. */
export function cdseMd5Of(checksums: v.InferOutput<typeof CHECKSUM_SCHEMA>): unknown {
  return checksums?.find(
    (c) => c.Algorithm?.toUpperCase() === "MD5" && c.Value !== undefined && c.Value !== "",
  )?.Value;
}

/** The BLAKE3 among a product's `Checksum[]`, lowercase hex, when it is 64 hex digits; else undefined. */
export function cdseBlake3Of(checksums: v.InferOutput<typeof CHECKSUM_SCHEMA>): string | undefined {
  const value = checksums?.find((c) => c.Algorithm?.toUpperCase() === "BLAKE3")?.Value;
  return typeof value === "string" && /^[0-9a-f]{64}$/i.test(value) ? value.toLowerCase() : undefined;
}

/** @throws InvalidInputError when `granuleId` is not a CDSE product id (it is spliced into a path). */
export function assertCdseProductId(granuleId: string): void {
  if (typeof granuleId !== "string" || !PRODUCT_ID_PATTERN.test(granuleId))
    throw new InvalidInputError(`not a CDSE product id: ${JSON.stringify(granuleId)}`, {
      field: "granuleId",
    });
}

/** Only called on values TIMESTAMP accepted. */
function isoOf(timestamp: string): string {
  return hubTimestampToIso(timestamp) ?? timestamp;
}
