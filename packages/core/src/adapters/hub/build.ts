import type { Config } from "../../config/runtime";
import { ConfigError } from "../../domain/errors";
import type { FilterRules } from "../../domain/filters";
import type { MetricSink } from "../../domain/metrics";
import type { Credentials } from "./auth";
import { CdseHub } from "./cdse/hub";
import { DhusHub } from "./dhus";
import type { HttpTuning } from "./http";
import type { Hub } from "./hub";

/** What a hub needs besides the config: the accounts (from wherever the caller keeps them) and the filters. */
export interface HubWiring {
  credentials: Credentials;
  /** The download hub's account when it has its own (DOWNLOAD_HUB_SECRET_ID); else `credentials`. */
  downloadCredentials?: Credentials;
  filterRules: Omit<FilterRules, "day">;
  metrics?: MetricSink;
  /** Backoff of every hub request where not the defaults (http.ts): the local runner's tests shorten it. */
  retryTuning?: Pick<HttpTuning, "minTimeoutMs" | "maxTimeoutMs">;
}

/**
 * The hub of the configured kind (HUB_KIND), with its search and download hosts, page size and JSON bound.
 * @throws ConfigError when HUB_KIND cdse has no DOWNLOAD_HUB_URL (the zipper host).
 */
export function buildHub(
  config: Pick<
    Config<"HUB_URL">,
    "hubKind" | "hubUrl" | "downloadHubUrl" | "cdseTokenUrl" | "searchPageSize" | "hubMaxJsonBytes"
  >,
  { credentials, downloadCredentials, filterRules, metrics, retryTuning }: HubWiring,
): Hub {
  const http = {
    ...retryTuning,
    maxJsonBytes: config.hubMaxJsonBytes,
    ...(metrics !== undefined && { metrics }),
  };
  const download =
    config.downloadHubUrl === undefined
      ? undefined
      : { url: config.downloadHubUrl, credentials: downloadCredentials ?? credentials };
  if (config.hubKind === "dhus") {
    return new DhusHub({
      url: config.hubUrl,
      credentials,
      download,
      pageSize: config.searchPageSize,
      filterRules,
      http,
    });
  }
  // CDSE searches the OData catalogue and downloads from the zipper, another host: no sensible default.
  if (download === undefined) {
    throw new ConfigError([
      { key: "DOWNLOAD_HUB_URL", message: "is required with HUB_KIND cdse (the zipper host)" },
    ]);
  }
  // One hub per container, so one Keycloak token manager: CDSE caps sessions per user.
  return new CdseHub({
    catalogueUrl: config.hubUrl,
    downloadUrl: download.url,
    credentials: download.credentials,
    ...(config.cdseTokenUrl !== undefined && { tokenUrl: config.cdseTokenUrl }),
    pageSize: config.searchPageSize,
    filterRules,
    http,
  });
}
