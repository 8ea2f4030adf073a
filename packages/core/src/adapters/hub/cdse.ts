import * as v from "valibot";
import { DAY_MS, isValidDay } from "../../domain/day";
import {
  ChecksumNotPublishedError,
  GranuleGoneError,
  GranuleOfflineError,
  HubAuthError,
  HubThrottledError,
  InvalidHubDataError,
  InvalidInputError,
} from "../../domain/errors";
import {
  assertSafeProductName,
  evaluateGranule,
  type FilterReason,
  type FilterRules,
  normalizeMd5,
  normalizeTileId,
  parseProductName,
  quoteValue,
} from "../../domain/filters";
import { type DiscoveredGranule, isPlatform, type Platform } from "../../domain/granule";
import { type Credentials, getJson, type HttpTuning, openStream } from "./http";
import type { DownloadStream, Hub, HubCallOptions, RejectedEntry, SearchPage, SearchQuery } from "./hub";
import { hubTimestampToIso } from "./timestamp";
import { CDSE_TOKEN_URL, CdseTokenManager } from "./token";

/** CDSE refuses `$skip` above this: a query with more results is split into smaller publication windows. */
export const CDSE_MAX_SKIP = 10_000;
/** CDSE's largest `$top`. */
export const CDSE_MAX_PAGE_SIZE = 1000;
/** The zipper redirects downloads to this host; the bearer token must follow it there. */
export const CDSE_DOWNLOAD_HOSTS = [
  "zipper.dataspace.copernicus.eu",
  "download.dataspace.copernicus.eu",
] as const;

const HOUR_MS = 3_600_000;
// CDSE ids are UUIDs; anything else must not be spliced into `Products(<id>)`.
const PRODUCT_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z-]{0,63}$/;

export interface CdseHubOptions {
  /** OData catalogue base, e.g. https://catalogue.dataspace.copernicus.eu */
  catalogueUrl: string;
  /** Zipper base for `$value`, e.g. https://zipper.dataspace.copernicus.eu */
  downloadUrl: string;
  /** Shared token manager (one per warm container); else one is built from credentials + tokenUrl. */
  tokens?: CdseTokenManager;
  credentials?: Credentials;
  tokenUrl?: string;
  /** `$top` of a search page, 1–1000. Default 1000. */
  pageSize?: number;
  /** Filters applied to every search page; the day comes from the query. */
  filterRules: Omit<FilterRules, "day">;
  /** Retry and timeout tuning of every hub request. */
  http?: HttpTuning;
  /** Hosts besides the download host a `$value` redirect may carry the bearer token to. */
  trustedRedirectHosts?: readonly string[];
  /** Largest `$skip` the catalogue accepts (10,000 on CDSE). */
  maxSkip?: number;
  /** Retry-After reported for a 429 that named none ("Max session number 4 exceeded" does not). */
  defaultRetryAfterSeconds?: number;
  /** How long a query's window plan is reused before its counts are asked again. Default 10 min. */
  planTtlMs?: number;
  /** Count requests in flight while planning windows. Default 4. */
  planConcurrency?: number;
  /** Clock in epoch ms, for the plan cache. */
  now?: () => number;
}

/** A publication window of a query small enough to page through with `$skip`, and its result count. */
export interface SearchWindow extends SearchQuery {
  from: string;
  to: string;
  count: number;
}

const ENVELOPE_SCHEMA = v.object({
  value: v.array(v.unknown()),
  "@odata.count": v.pipe(v.number(), v.integer(), v.minValue(0)),
  "@odata.nextLink": v.optional(v.string()),
});

const TIMESTAMP = v.pipe(
  v.string(),
  v.check((value) => hubTimestampToIso(value) !== undefined, "is not an RFC 3339 timestamp with a zone"),
);

const CHECKSUM_SCHEMA = v.optional(
  v.array(v.looseObject({ Algorithm: v.optional(v.string()), Value: v.optional(v.unknown()) })),
);

const PRODUCT_SCHEMA = v.looseObject({
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

const PRODUCT_CHECKSUM_SCHEMA = v.looseObject({ Checksum: CHECKSUM_SCHEMA, Online: v.optional(v.boolean()) });

type Product = v.InferOutput<typeof PRODUCT_SCHEMA>;

interface CataloguePage {
  entries: unknown[];
  count: number;
  nextLink?: string;
}

interface Window {
  from: number;
  to: number;
}

/**
 * The Copernicus Data Space Ecosystem: OData catalogue search, `Checksum[]` MD5, zipper download with a
 * Keycloak bearer token shared by every download of the container.
 *
 * Offsets past CDSE's `$skip` cap: the `Hub` contract keeps one offset per query (what the per
 * (day, platform) fetch counter stores), so a query with more than 10,000 results is split here, not by
 * the caller. `planWindows` cuts the query into hour windows, halving any that still holds more than
 * 10,000, and `listSearchPage` maps the query-wide offset onto (window, offset in window) with the
 * windows' cumulative counts. Ordering by PublicationDate ascending makes the windows' concatenation
 * the query's own order, and new products are published at the end of the day, so the offsets of
 * pages already fetched stay valid while the day fills; a re-listed product is a duplicate the
 * granule table's conditional put ignores.
 */
export class CdseHub implements Hub {
  readonly kind = "cdse" as const;
  readonly catalogueUrl: string;
  readonly downloadUrl: string;
  readonly tokens: CdseTokenManager;
  readonly #pageSize: number;
  readonly #filterRules: Omit<FilterRules, "day">;
  readonly #http: HttpTuning;
  readonly #trustedRedirectHosts: readonly string[];
  readonly #maxSkip: number;
  readonly #defaultRetryAfterSeconds: number;
  readonly #planTtlMs: number;
  readonly #planConcurrency: number;
  readonly #now: () => number;
  readonly #plans = new Map<string, { windows: SearchWindow[]; madeAt: number }>();

  /** @throws InvalidInputError naming a bad option. */
  constructor(options: CdseHubOptions) {
    let { tokens, pageSize, http, trustedRedirectHosts, maxSkip, defaultRetryAfterSeconds } = options;
    let { planTtlMs, planConcurrency, now } = options;
    pageSize ??= CDSE_MAX_PAGE_SIZE;
    http ??= {};
    trustedRedirectHosts ??= CDSE_DOWNLOAD_HOSTS;
    maxSkip ??= CDSE_MAX_SKIP;
    defaultRetryAfterSeconds ??= 30;
    planTtlMs ??= 600_000;
    planConcurrency ??= 4;
    now ??= Date.now;
    this.catalogueUrl = baseUrl(options.catalogueUrl, "catalogueUrl");
    this.downloadUrl = baseUrl(options.downloadUrl, "downloadUrl");
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > CDSE_MAX_PAGE_SIZE)
      throw new InvalidInputError(`pageSize must be an integer from 1 to ${CDSE_MAX_PAGE_SIZE}`, {
        field: "pageSize",
      });
    if (!Number.isInteger(maxSkip) || maxSkip < 1)
      throw new InvalidInputError("maxSkip must be a positive integer", { field: "maxSkip" });
    if (!Number.isFinite(defaultRetryAfterSeconds) || defaultRetryAfterSeconds < 0)
      throw new InvalidInputError("defaultRetryAfterSeconds must be ≥ 0", {
        field: "defaultRetryAfterSeconds",
      });
    if (!Number.isFinite(planTtlMs) || planTtlMs < 0)
      throw new InvalidInputError("planTtlMs must be ≥ 0", { field: "planTtlMs" });
    if (!Number.isInteger(planConcurrency) || planConcurrency < 1)
      throw new InvalidInputError("planConcurrency must be a positive integer", { field: "planConcurrency" });
    if (options.filterRules === undefined)
      throw new InvalidInputError("filterRules is required", { field: "filterRules" });
    if (tokens === undefined) {
      if (options.credentials === undefined)
        throw new InvalidInputError("give tokens or credentials for downloads", { field: "tokens" });
      tokens = new CdseTokenManager({
        tokenUrl: options.tokenUrl ?? CDSE_TOKEN_URL,
        credentials: options.credentials,
        ...(http.maxJsonBytes !== undefined && { maxJsonBytes: http.maxJsonBytes }),
      });
    }
    this.tokens = tokens;
    this.#pageSize = pageSize;
    this.#filterRules = options.filterRules;
    this.#http = http;
    this.#trustedRedirectHosts = trustedRedirectHosts.map((host) => host.toLowerCase());
    this.#maxSkip = maxSkip;
    this.#defaultRetryAfterSeconds = defaultRetryAfterSeconds;
    this.#planTtlMs = planTtlMs;
    this.#planConcurrency = planConcurrency;
    this.#now = now;
  }

  /** CDSE's `ContentLength` is the product's exact byte count. */
  sizeToleranceBytes(_sizeBytes: number): number {
    return 0;
  }

  /**
   * Lists one page of a query; `offset` counts across the whole query even past CDSE's `$skip` cap.
   * @throws HubThrottledError, HubUnavailableError, HubAuthError, InvalidHubDataError (malformed answer),
   *   InvalidInputError (bad query or offset).
   */
  async listSearchPage(
    query: SearchQuery,
    offset: number,
    options: HubCallOptions = {},
  ): Promise<SearchPage> {
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new InvalidInputError(`offset must be a non-negative integer, got ${offset}`, {
        field: "offset",
      });
    const whole = windowOf(query);
    const key = planKey(query.platform, whole);
    const cached = this.#plans.get(key);
    let windows = cached && this.#now() - cached.madeAt <= this.#planTtlMs ? cached.windows : undefined;
    if (windows === undefined && offset <= this.#maxSkip) {
      // The common case, a query under the cap: one request per page, no counting.
      const page = await this.#fetchPage(query.platform, whole, offset, this.#pageSize, options);
      if (page.count <= this.#maxSkip) return this.#toSearchPage(query, page, offset, page.count, page.count);
    }
    windows ??= await this.planWindows(query, options);
    const total = windows.reduce((sum, window) => sum + window.count, 0);
    let before = 0;
    for (const window of windows) {
      if (offset < before + window.count) {
        const page = await this.#fetchPage(
          query.platform,
          { from: Date.parse(window.from), to: Date.parse(window.to) },
          offset - before,
          this.#pageSize,
          options,
        );
        return this.#toSearchPage(query, page, offset, total, before + window.count);
      }
      before += window.count;
    }
    return { totalResults: total, entriesOnPage: 0, granules: [], rejected: [] };
  }

  /**
   * Cuts a query into publication windows of at most `maxSkip` results each (hour windows, halved
   * while too big), counting each with a `$top=0` request; cached for `planTtlMs`.
   * @throws HubThrottledError, HubUnavailableError, InvalidHubDataError (also when more than `maxSkip`
   *   products share one millisecond), InvalidInputError (bad query).
   */
  async planWindows(query: SearchQuery, options: HubCallOptions = {}): Promise<SearchWindow[]> {
    const whole = windowOf(query);
    const count = async (window: Window) =>
      (await this.#fetchPage(query.platform, window, 0, 0, options)).count;
    const split = async (window: Window, total: number): Promise<{ window: Window; count: number }[]> => {
      if (total <= this.#maxSkip) return [{ window, count: total }];
      if (window.to - window.from <= 1)
        throw new InvalidHubDataError(
          `${total} products of ${query.platform} published at ${new Date(window.from).toISOString()}: more than $skip can page`,
          { url: this.catalogueUrl },
        );
      const mid = window.from + Math.floor((window.to - window.from) / 2);
      const halves = [
        { from: window.from, to: mid },
        { from: mid, to: window.to },
      ];
      const counts = await Promise.all(halves.map(count));
      return (await Promise.all(halves.map((half, i) => split(half, counts[i]!)))).flat();
    };
    const total = await count(whole);
    let planned: { window: Window; count: number }[];
    if (total <= this.#maxSkip) {
      planned = [{ window: whole, count: total }];
    } else {
      const hours = hourWindows(whole);
      const hourCounts = await mapLimit(hours, this.#planConcurrency, count);
      planned = (await Promise.all(hours.map((hour, i) => split(hour, hourCounts[i]!)))).flat();
    }
    const windows = planned.map(({ window, count }) => ({
      day: query.day,
      platform: query.platform,
      from: new Date(window.from).toISOString(),
      to: new Date(window.to).toISOString(),
      count,
    }));
    this.#plans.set(planKey(query.platform, whole), { windows, madeAt: this.#now() });
    return windows;
  }

  /**
   * The hub's MD5 of a product, asked afresh each time (ESA's first published checksum is sometimes wrong).
   * @throws ChecksumNotPublishedError (no MD5 yet), GranuleOfflineError (`Online: false`),
   *   GranuleGoneError (404/410), InvalidHubDataError,
   *   HubThrottledError, HubUnavailableError, InvalidInputError (bad id).
   */
  async getChecksum(granuleId: string, options: HubCallOptions = {}): Promise<string> {
    assertProductId(granuleId);
    const url = `${this.catalogueUrl}/odata/v1/Products(${granuleId})`;
    const body = await getJson(url, {
      ...this.#http,
      signal: options.signal,
      goneError: (status) => new GranuleGoneError(granuleId, status),
    });
    const parsed = v.safeParse(PRODUCT_CHECKSUM_SCHEMA, body);
    if (!parsed.success)
      throw new InvalidHubDataError(`product ${granuleId}: ${describeIssues(parsed.issues)}`, {
        url,
        granuleId,
      });
    // Offline: the zipper would not serve it (or serve an error page). The granule stays recorded and
    // the retryable error brings it back until CDSE has it online again; never a terminal failure.
    if (parsed.output.Online === false) throw new GranuleOfflineError(granuleId);
    const md5 = md5Of(parsed.output.Checksum);
    // CDSE publishes the MD5 hours after the product: retry later, never download unverifiable bytes.
    if (md5 === undefined) throw new ChecksumNotPublishedError(granuleId);
    return normalizeMd5(md5, { granuleId, url });
  }

  /**
   * Opens the product's zip from the zipper with the shared bearer token; a 401 renews the token and
   * tries once more.
   * @throws HubAuthError (refused twice, or credentials refused), HubThrottledError (429, with a
   *   Retry-After), GranuleGoneError, HubUnavailableError, InvalidHubDataError, InvalidInputError.
   */
  async openDownload(
    granuleId: string,
    options: HubCallOptions & { offset?: number } = {},
  ): Promise<DownloadStream> {
    assertProductId(granuleId);
    const url = `${this.downloadUrl}/odata/v1/Products(${granuleId})/$value`;
    for (let attempt = 1; ; attempt++) {
      let sentToken: string | undefined;
      let tokenFailed = false;
      const authorize = async () => {
        try {
          sentToken = await this.tokens.getAccessToken();
        } catch (error) {
          tokenFailed = true;
          throw error;
        }
        return { authorization: `Bearer ${sentToken}` };
      };
      try {
        const opened = await openStream(url, {
          ...this.#http,
          authorize,
          offset: options.offset,
          signal: options.signal,
          trustedRedirectHosts: this.#trustedRedirectHosts,
          goneError: (status) => new GranuleGoneError(granuleId, status),
        });
        return {
          body: opened.body,
          offset: opened.offset,
          contentLength: opened.contentLength,
          ...(opened.totalLength !== undefined && { totalLength: opened.totalLength }),
        };
      } catch (error) {
        // A token can be revoked before it expires (session limit, logout): renew once, then give up.
        if (error instanceof HubAuthError && error.status === 401 && !tokenFailed && attempt === 1) {
          this.tokens.invalidate(sentToken);
          continue;
        }
        if (error instanceof HubThrottledError && error.retryAfterSeconds === undefined) {
          // The state machine waits Retry-After; a session-limit 429 names none, so give it a pause.
          throw new HubThrottledError(error.message, {
            retryAfterSeconds: this.#defaultRetryAfterSeconds,
            url: error.url,
            cause: error,
          });
        }
        throw error;
      }
    }
  }

  async #fetchPage(
    platform: Platform,
    window: Window,
    skip: number,
    top: number,
    options: HubCallOptions,
  ): Promise<CataloguePage> {
    const url = this.#searchUrl(platform, window, skip, top);
    const body = await getJson(url, { ...this.#http, signal: options.signal });
    const parsed = v.safeParse(ENVELOPE_SCHEMA, body);
    if (!parsed.success)
      throw new InvalidHubDataError(`search answer: ${describeIssues(parsed.issues)}`, {
        url: this.catalogueUrl,
      });
    return {
      entries: parsed.output.value,
      count: parsed.output["@odata.count"],
      nextLink: parsed.output["@odata.nextLink"],
    };
  }

  #searchUrl(platform: Platform, window: Window, skip: number, top: number): string {
    const filter = [
      "Collection/Name eq 'SENTINEL-2'",
      `PublicationDate ge ${new Date(window.from).toISOString()}`,
      `PublicationDate lt ${new Date(window.to).toISOString()}`,
      attributeEquals("productType", "S2MSI1C"),
      attributeEquals("platformSerialIdentifier", platform.slice(2)),
    ].join(" and ");
    const params: [string, string][] = [
      ["$filter", filter],
      // Without a total order, $skip paging loses and duplicates products between pages.
      ["$orderby", "PublicationDate asc"],
      ["$top", String(top)],
      ["$skip", String(skip)],
      ["$count", "true"],
    ];
    if (top > 0) params.push(["$expand", "Attributes"]);
    const query = params.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&");
    return `${this.catalogueUrl}/odata/v1/Products?${query}`;
  }

  #toSearchPage(
    query: SearchQuery,
    page: CataloguePage,
    offset: number,
    totalResults: number,
    windowEnd: number,
  ): SearchPage {
    const granules: DiscoveredGranule[] = [];
    const rejected: RejectedEntry[] = [];
    page.entries.forEach((entry, i) => {
      const outcome = this.#toGranule(entry, query);
      if ("granule" in outcome) granules.push(outcome.granule);
      else
        rejected.push({
          id: outcome.id ?? `(entry ${offset + i})`,
          name: outcome.name,
          reason: outcome.reason,
          filter: outcome.filter ?? "invalid",
        });
    });
    const entriesOnPage = page.entries.length;
    const entryIds = page.entries.map((entry) => {
      const id = typeof entry === "object" && entry !== null ? (entry as { Id?: unknown }).Id : undefined;
      return typeof id === "string" ? id : "";
    });
    // An empty page inside a window (products withdrawn since counting) moves on to the next window.
    const next = entriesOnPage > 0 ? offset + entriesOnPage : windowEnd;
    const more = next < totalResults || (entriesOnPage > 0 && page.nextLink !== undefined);
    return {
      totalResults,
      entriesOnPage,
      granules,
      rejected,
      entryIds,
      ...(more && next > offset ? { nextOffset: next } : {}),
    };
  }

  #toGranule(
    entry: unknown,
    query: SearchQuery,
  ): { granule: DiscoveredGranule } | { id?: string; name?: string; reason: string; filter?: FilterReason } {
    const looseId = typeof entry === "object" && entry !== null ? (entry as { Id?: unknown }).Id : undefined;
    const looseName =
      typeof entry === "object" && entry !== null ? (entry as { Name?: unknown }).Name : undefined;
    const id = typeof looseId === "string" ? looseId : undefined;
    const name = typeof looseName === "string" ? looseName : undefined;
    const parsed = v.safeParse(PRODUCT_SCHEMA, entry);
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
      granule = toDiscoveredGranule(product);
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
    const verdict = evaluateGranule(granule, { ...this.#filterRules, day: query.day });
    if (!verdict.accepted) return { id, name, reason: verdict.reason, filter: verdict.filter };
    return { granule };
  }
}

function toDiscoveredGranule(product: Product): DiscoveredGranule {
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
  const md5 = md5Of(product.Checksum);
  if (md5 !== undefined) {
    try {
      granule.md5 = normalizeMd5(md5, context);
    } catch {
      // A malformed listing MD5 is not a reason to lose the granule: getChecksum asks again before download.
    }
  }
  return granule;
}

function md5Of(checksums: v.InferOutput<typeof CHECKSUM_SCHEMA>): unknown {
  return checksums?.find(
    (c) => c.Algorithm?.toUpperCase() === "MD5" && c.Value !== undefined && c.Value !== "",
  )?.Value;
}

function attributeEquals(name: string, value: string): string {
  return (
    `Attributes/OData.CSC.StringAttribute/any(att:att/Name eq '${name}' and ` +
    `att/OData.CSC.StringAttribute/Value eq '${value}')`
  );
}

/** Only called on values TIMESTAMP accepted. */
function isoOf(timestamp: string): string {
  return hubTimestampToIso(timestamp) ?? timestamp;
}

function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${v.getDotPath(issue) ?? "(root)"} ${issue.message}`)
    .join("; ");
}

function assertProductId(granuleId: string): void {
  if (typeof granuleId !== "string" || !PRODUCT_ID_PATTERN.test(granuleId))
    throw new InvalidInputError(`not a CDSE product id: ${JSON.stringify(granuleId)}`, {
      field: "granuleId",
    });
}

function baseUrl(value: string, field: string): string {
  if (typeof value !== "string" || !URL.canParse(value))
    throw new InvalidInputError(`${field} must be an absolute URL`, { field });
  return value.replace(/\/+$/, "");
}

/** The query's publication window in epoch ms: [from, to), default the whole day. */
function windowOf(query: SearchQuery): Window {
  if (!isValidDay(query.day))
    throw new InvalidInputError(`day must be YYYY-MM-DD, got ${JSON.stringify(query.day)}`, { field: "day" });
  if (!isPlatform(query.platform))
    throw new InvalidInputError(`unknown platform ${JSON.stringify(query.platform)}`, { field: "platform" });
  const dayStart = Date.parse(`${query.day}T00:00:00.000Z`);
  const from = query.from === undefined ? dayStart : Date.parse(query.from);
  const to = query.to === undefined ? dayStart + DAY_MS : Date.parse(query.to);
  if (Number.isNaN(from)) throw new InvalidInputError("from is not a timestamp", { field: "from" });
  if (Number.isNaN(to)) throw new InvalidInputError("to is not a timestamp", { field: "to" });
  if (from >= to) throw new InvalidInputError("from must be before to", { field: "from" });
  return { from, to };
}

function planKey(platform: Platform, window: Window): string {
  return `${platform}|${window.from}|${window.to}`;
}

/** The window cut at whole UTC hours. */
function hourWindows(window: Window): Window[] {
  const windows: Window[] = [];
  let from = window.from;
  while (from < window.to) {
    const to = Math.min(window.to, (Math.floor(from / HOUR_MS) + 1) * HOUR_MS);
    windows.push({ from, to });
    from = to;
  }
  return windows;
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** A catalogue product's shape and its mapping to a granule, shared with push notifications (push.ts). */
export { PRODUCT_SCHEMA as CDSE_PRODUCT_SCHEMA, toDiscoveredGranule as cdseProductToGranule };
