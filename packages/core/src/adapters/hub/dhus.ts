import * as v from "valibot";
import {
  ChecksumNotPublishedError,
  describeIssues,
  GranuleGoneError,
  InvalidHubDataError,
  InvalidInputError,
} from "../../domain/errors";
import {
  assertSafeProductName,
  evaluateGranule,
  type FilterReason,
  normalizeMd5,
  normalizeTileId,
  parseProductName,
} from "../../domain/filters";
import type { DiscoveredGranule, Platform } from "../../domain/granule";
import { type Authorizer, basicAuth, type Credentials } from "./auth";
import {
  GRANULE_ID_PATTERN,
  parseSize,
  platformOf,
  REQUIRED_FIELDS,
  rejectedEntry,
  SearchEntry,
} from "./dhus-entry";
import { getJson, type HttpTuning, openProduct } from "./http";
import {
  checkSearchQuery,
  type DownloadStream,
  type Hub,
  type HubCallOptions,
  pageOverlapFor,
  type RejectedEntry,
  type SearchPage,
  type SearchQuery,
} from "./hub";
import { hubTimestampToIso } from "./timestamp";
import { hubBaseUrl } from "./url";

export interface DhusHubOptions {
  /** Search (and download) host, e.g. https://scihub.copernicus.eu — the `/dhus/...` paths are appended. */
  url: string;
  credentials: Credentials;
  /** IntHub2: another host, with its own account, used for downloads only. */
  download?: { url: string; credentials: Credentials };
  /** Rows per search page; DHuS caps `rows` at 100. Default 100. */
  pageSize?: number;
  filterRules: { tiles?: ReadonlySet<string>; maxAcquisitionAgeDays: number };
  /** Hosts a download redirect may carry the credentials to (besides the request's own origin). */
  trustedRedirectHosts?: readonly string[];
  http?: HttpTuning;
}

/** The DHuS OpenSearch/OData API family: SciHub, IntHub2 and their mirrors. */
export class DhusHub implements Hub {
  readonly kind = "dhus" as const;
  readonly pageOverlap: number;
  readonly #searchBase: string;
  readonly #downloadBase: string;
  readonly #searchAuth: Authorizer;
  readonly #downloadAuth: Authorizer;
  readonly #pageSize: number;
  readonly #filterRules: DhusHubOptions["filterRules"];
  readonly #trustedRedirectHosts: readonly string[];
  readonly #http: HttpTuning;

  /** @throws InvalidInputError naming the bad option. */
  constructor(input: DhusHubOptions) {
    const options = { ...input };
    options.pageSize ??= 100;
    options.trustedRedirectHosts ??= [];
    options.http ??= {};
    if (!Number.isInteger(options.pageSize) || options.pageSize < 1 || options.pageSize > 100) {
      throw new InvalidInputError(`pageSize must be an integer from 1 to 100, got ${options.pageSize}`, {
        field: "pageSize",
      });
    }
    this.#searchBase = hubBaseUrl(options.url, "url");
    this.#downloadBase =
      options.download === undefined ? this.#searchBase : hubBaseUrl(options.download.url, "download.url");
    this.#searchAuth = basicAuth(options.credentials);
    this.#downloadAuth = basicAuth(options.download?.credentials ?? options.credentials);
    this.#pageSize = options.pageSize;
    this.pageOverlap = pageOverlapFor(options.pageSize);
    this.#filterRules = options.filterRules;
    this.#trustedRedirectHosts = options.trustedRedirectHosts;
    this.#http = options.http;
  }

  /**
   * DHuS prints sizes with two decimals in binary units ("660.95 MB"), so the byte count it gives is
   * within half a hundredth of that unit; one hundredth leaves room for how the hub rounds.
   */
  sizeToleranceBytes(sizeBytes: number): number {
    let unit = 1;
    while (unit * 1024 <= sizeBytes && unit < 1024 ** 4) unit *= 1024;
    return unit === 1 ? 0 : Math.ceil(unit / 100);
  }

  /**
   * Lists one page of the day's Level-1C products of one platform, validated and filtered.
   * @throws HubThrottledError, HubUnavailableError, HubAuthError, InvalidHubDataError (malformed page),
   *   InvalidInputError (bad query or offset)
   */
  async listSearchPage(
    query: SearchQuery,
    offset: number,
    options: HubCallOptions = {},
  ): Promise<SearchPage> {
    const url = this.#searchUrl(query, offset);
    const body = await getJson(url, { ...this.#http, authorize: this.#searchAuth, signal: options.signal });
    const parsed = v.safeParse(SearchEnvelope, body);
    if (!parsed.success) {
      throw new InvalidHubDataError(
        `DHuS search page at offset ${offset}: ${describeIssues(parsed.issues)}`,
        {
          url,
        },
      );
    }
    const feed = parsed.output.feed;
    const totalResults = Number(feed["opensearch:totalResults"]);
    const startIndex = feed["opensearch:startIndex"];
    if (startIndex !== undefined && Number(startIndex) !== offset) {
      // A hub that ignores `start` answers the first page forever: the query would never end.
      throw new InvalidHubDataError(
        `DHuS search page asked from ${offset} answered opensearch:startIndex ${startIndex}`,
        { url },
      );
    }
    // DHuS sends no `entry` for an empty page and a bare object, not an array, for a single result.
    const entries = feed.entry === undefined ? [] : Array.isArray(feed.entry) ? feed.entry : [feed.entry];
    const granules: DiscoveredGranule[] = [];
    const rejected: RejectedEntry[] = [];
    entries.forEach((entry, index) => {
      const verdict = this.#readEntry(entry, query);
      if ("granule" in verdict) granules.push(verdict.granule);
      else rejected.push(rejectedEntry(entry, offset + index, verdict.reason, verdict.filter));
    });
    const reached = offset + entries.length;
    // An empty page ends the search even if the total says more: paging on would loop forever.
    const nextOffset = entries.length > 0 && reached < totalResults ? reached : undefined;
    const entryIds = entries.map((entry) => {
      const id = typeof entry === "object" && entry !== null ? (entry as { id?: unknown }).id : undefined;
      return typeof id === "string" ? id : "";
    });
    return { totalResults, entriesOnPage: entries.length, granules, rejected, nextOffset, entryIds };
  }

  /**
   * The hub's MD5 of a product, lowercase hex.
   * @throws ChecksumNotPublishedError, GranuleGoneError, InvalidHubDataError, InvalidInputError (bad id),
   *   HubThrottledError, HubUnavailableError, HubAuthError
   */
  async getChecksum(granuleId: string, options: HubCallOptions = {}): Promise<string> {
    const url = `${this.#searchBase}/dhus/odata/v1/Products('${checkGranuleId(granuleId)}')/?$format=json&$select=Checksum`;
    const body = await getJson(url, {
      ...this.#http,
      authorize: this.#searchAuth,
      signal: options.signal,
      goneError: (status) => new GranuleGoneError(granuleId, status),
    });
    const parsed = v.safeParse(ChecksumAnswer, body);
    if (!parsed.success) {
      throw new InvalidHubDataError(`checksum of granule ${granuleId}: ${describeIssues(parsed.issues)}`, {
        granuleId,
      });
    }
    const checksum = parsed.output.d.Checksum;
    const value = checksum?.Value;
    if (typeof value !== "string" || value.trim() === "") throw new ChecksumNotPublishedError(granuleId);
    if (typeof checksum?.Algorithm === "string" && checksum.Algorithm.toUpperCase() !== "MD5") {
      throw new InvalidHubDataError(`checksum of granule ${granuleId} is ${checksum.Algorithm}, not MD5`, {
        granuleId,
      });
    }
    return normalizeMd5(value, { granuleId });
  }

  /**
   * Opens the product's body from `offset` on, from the download host (IntHub2 when configured).
   * @throws GranuleGoneError, HubThrottledError, HubUnavailableError, HubAuthError, InvalidHubDataError,
   *   InvalidInputError (bad id or offset)
   */
  async openDownload(
    granuleId: string,
    options: HubCallOptions & { offset?: number } = {},
  ): Promise<DownloadStream> {
    const url = `${this.#downloadBase}/dhus/odata/v1/Products('${checkGranuleId(granuleId)}')/$value`;
    return openProduct(url, granuleId, {
      ...this.#http,
      authorize: this.#downloadAuth,
      signal: options.signal,
      offset: options.offset,
      trustedRedirectHosts: this.#trustedRedirectHosts,
    });
  }

  #searchUrl(query: SearchQuery, offset: number): string {
    checkSearchQuery(query);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new InvalidInputError(`offset must be a non-negative integer, got ${offset}`, {
        field: "offset",
      });
    }
    const from = new Date(query.from ?? `${query.day}T00:00:00.000Z`).toISOString();
    const to = new Date(query.to ?? `${query.day}T23:59:59.999Z`).toISOString();
    const q = [
      "(platformname:Sentinel-2)",
      "(processinglevel:Level-1C)",
      `(ingestiondate:[${from} TO ${to}])`,
      `(platformserialidentifier:${platformName(query.platform)})`,
    ].join(" AND ");
    const params: [string, string][] = [
      ["q", q],
      ["rows", String(this.#pageSize)],
      ["start", String(offset)],
      // Oldest first: what is ingested while the day is paged comes after the stored offset, not
      // before it. DHuS documents no tie-breaker; the link fetcher's page overlap covers equal times.
      ["orderby", "ingestiondate asc"],
      ["format", "json"],
    ];
    // encodeURIComponent (%20, not URLSearchParams' "+"), which every server decodes the same way.
    const search = params.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&");
    return `${this.#searchBase}/dhus/search?${search}`;
  }

  #readEntry(
    entry: unknown,
    query: SearchQuery,
  ): { granule: DiscoveredGranule } | { reason: string; filter?: FilterReason } {
    const parsed = v.safeParse(SearchEntry, entry);
    if (!parsed.success) return { reason: `invalid entry: ${describeIssues(parsed.issues)}` };
    const { id, title } = parsed.output;
    const fields = new Map<string, string>();
    for (const group of [parsed.output.str, parsed.output.date, parsed.output.int, parsed.output.double]) {
      for (const field of group === undefined ? [] : Array.isArray(group) ? group : [group]) {
        fields.set(field.name, String(field.content));
      }
    }
    const missing = REQUIRED_FIELDS.filter((name) => !fields.has(name));
    if (missing.length > 0) return { reason: `missing field(s) ${missing.join(", ")}` };
    const field = (name: string) => fields.get(name) ?? "";

    let name: string;
    try {
      name = assertSafeProductName(title, { granuleId: id });
    } catch (error) {
      return { reason: error instanceof Error ? error.message : String(error), filter: "unsafeName" };
    }
    if (field("filename") !== `${name}.SAFE`) {
      return { reason: `filename ${JSON.stringify(field("filename"))} does not match title ${name}` };
    }
    if (field("producttype") !== "S2MSI1C")
      return { reason: `product type ${field("producttype")} is not S2MSI1C`, filter: "level" };
    const parts = parseProductName(name);
    const platform = platformOf(field("platformserialidentifier"));
    if (platform === undefined || platform !== parts?.mission) {
      return { reason: `platform ${field("platformserialidentifier")} does not match product ${name}` };
    }
    if (platform !== query.platform)
      return { reason: `platform ${platform} was not asked for (${query.platform})`, filter: "platform" };
    // Older entries lack `tileid`; the product name carries the tile too, and the two must agree.
    const tileId = normalizeTileId(fields.get("tileid") ?? parts.tileId);
    if (tileId === undefined || tileId !== parts.tileId) {
      return { reason: `tile ${fields.get("tileid")} does not match product ${name}` };
    }
    const sizeBytes = parseSize(field("size"));
    if (sizeBytes === undefined) return { reason: `size ${JSON.stringify(field("size"))} is not readable` };
    const times: string[] = [];
    for (const key of ["beginposition", "endposition", "ingestiondate"] as const) {
      const time = hubTimestampToIso(field(key));
      if (time === undefined)
        return { reason: `${key} ${JSON.stringify(field(key).slice(0, 40))} is not an RFC 3339 timestamp` };
      times.push(time);
    }
    const [sensingStart = "", sensingEnd = "", publishedAt = ""] = times;
    const granule: DiscoveredGranule = {
      granuleId: id,
      name,
      tileId,
      platform,
      sensingStart,
      sensingEnd,
      publishedAt,
      sizeBytes,
    };
    const verdict = evaluateGranule(granule, { ...this.#filterRules, day: query.day });
    return verdict.accepted ? { granule } : { reason: verdict.reason, filter: verdict.filter };
  }
}

const SearchEnvelope = v.object({
  feed: v.object({
    "opensearch:totalResults": v.pipe(v.string(), v.regex(/^\d+$/, "totalResults is not a count")),
    // DHuS echoes the page's `start` (0-based) here.
    "opensearch:startIndex": v.optional(v.pipe(v.string(), v.regex(/^\d+$/, "startIndex is not an index"))),
    // Entries are validated one by one, so one malformed entry is rejected without losing the page.
    entry: v.optional(v.union([v.array(v.unknown()), v.looseObject({})])),
  }),
});

const ChecksumAnswer = v.object({
  d: v.object({
    Checksum: v.nullish(
      v.object({
        // OData v2 writes a withheld complex value as its fields set to null.
        Algorithm: v.nullish(v.string()),
        Value: v.nullish(v.string()),
      }),
    ),
  }),
});

function checkGranuleId(granuleId: string): string {
  if (!GRANULE_ID_PATTERN.test(granuleId)) {
    throw new InvalidInputError(
      `granule id ${JSON.stringify(granuleId.slice(0, 80))} is not a DHuS product id`,
      {
        field: "granuleId",
      },
    );
  }
  return granuleId;
}

function platformName(platform: Platform): string {
  return `Sentinel-2${platform.slice(2)}`;
}
