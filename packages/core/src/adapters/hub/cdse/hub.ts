import * as v from "valibot";
import {
  ChecksumNotPublishedError,
  describeIssues,
  GranuleGoneError,
  GranuleOfflineError,
  HubAuthError,
  HubThrottledError,
  InvalidHubDataError,
  InvalidInputError,
} from "../../../domain/errors";
import { type FilterRules, normalizeMd5 } from "../../../domain/filters";
import type { Credentials } from "../auth";
import { getJson, type HttpTuning, openProduct } from "../http";
import {
  type DownloadStream,
  type Hub,
  type HubCallOptions,
  pageOverlapFor,
  type SearchPage,
  type SearchQuery,
} from "../hub";
import { hubBaseUrl } from "../url";
import { CDSE_MAX_PAGE_SIZE, CDSE_MAX_SKIP, CdseCatalogue, type SearchWindow } from "./catalogue";
import { assertCdseProductId, CDSE_PRODUCT_CHECKSUM_SCHEMA, cdseBlake3Of, cdseMd5Of } from "./product";
import { CDSE_TOKEN_URL, CdseTokenManager } from "./token";

/** The zipper redirects downloads to this host; the bearer token must follow it there. */
export const CDSE_DOWNLOAD_HOSTS = [
  "zipper.dataspace.copernicus.eu",
  "download.dataspace.copernicus.eu",
] as const;

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
  readonly pageOverlap: number;
  readonly catalogueUrl: string;
  readonly downloadUrl: string;
  readonly tokens: CdseTokenManager;
  readonly #http: HttpTuning;
  readonly #trustedRedirectHosts: readonly string[];
  readonly #defaultRetryAfterSeconds: number;
  readonly #catalogue: CdseCatalogue;

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
    this.catalogueUrl = hubBaseUrl(options.catalogueUrl, "catalogueUrl");
    this.downloadUrl = hubBaseUrl(options.downloadUrl, "downloadUrl");
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
    this.#http = http;
    this.#trustedRedirectHosts = trustedRedirectHosts.map((host) => host.toLowerCase());
    this.#defaultRetryAfterSeconds = defaultRetryAfterSeconds;
    this.pageOverlap = pageOverlapFor(pageSize);
    this.#catalogue = new CdseCatalogue({
      catalogueUrl: this.catalogueUrl,
      pageSize,
      filterRules: options.filterRules,
      http,
      maxSkip,
      planTtlMs,
      planConcurrency,
      now,
    });
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
    return this.#catalogue.listSearchPage(query, offset, options);
  }

  /**
   * Cuts a query into publication windows of at most `maxSkip` results each (hour windows, halved
   * while too big), counting each with a `$top=0` request; cached for `planTtlMs`.
   * @throws HubThrottledError, HubUnavailableError, InvalidHubDataError (also when more than `maxSkip`
   *   products share one millisecond), InvalidInputError (bad query).
   */
  planWindows(query: SearchQuery, options: HubCallOptions = {}): Promise<SearchWindow[]> {
    return this.#catalogue.planWindows(query, options);
  }

  /**
   * The hub's MD5 of a product, asked afresh each time (ESA's first published checksum is sometimes wrong).
   * @throws ChecksumNotPublishedError (no MD5 yet), GranuleOfflineError (`Online: false`),
   *   GranuleGoneError (404/410), InvalidHubDataError,
   *   HubThrottledError, HubUnavailableError, InvalidInputError (bad id).
   */
  async getChecksum(granuleId: string, options: HubCallOptions = {}): Promise<string> {
    assertCdseProductId(granuleId);
    const url = `${this.catalogueUrl}/odata/v1/Products(${granuleId})`;
    const body = await getJson(url, {
      ...this.#http,
      signal: options.signal,
      goneError: (status) => new GranuleGoneError(granuleId, status),
    });
    const parsed = v.safeParse(CDSE_PRODUCT_CHECKSUM_SCHEMA, body);
    if (!parsed.success)
      throw new InvalidHubDataError(`product ${granuleId}: ${describeIssues(parsed.issues)}`, {
        url,
        granuleId,
      });
    // Offline: the zipper would not serve it (or serve an error page). The granule stays recorded and
    // the retryable error brings it back until CDSE has it online again; never a terminal failure.
    if (parsed.output.Online === false) throw new GranuleOfflineError(granuleId);
    const md5 = cdseMd5Of(parsed.output.Checksum);
    // CDSE publishes the MD5 hours after the product: retry later, never download unverifiable bytes.
    // Some products list only a BLAKE3: the error carries it, and the download verifies with it.
    if (md5 === undefined) {
      const blake3 = cdseBlake3Of(parsed.output.Checksum);
      throw new ChecksumNotPublishedError(granuleId, blake3 === undefined ? {} : { blake3 });
    }
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
    assertCdseProductId(granuleId);
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
        return await openProduct(url, granuleId, {
          ...this.#http,
          authorize,
          offset: options.offset,
          signal: options.signal,
          trustedRedirectHosts: this.#trustedRedirectHosts,
        });
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
}
