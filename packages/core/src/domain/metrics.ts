/**
 * The CloudWatch metrics the code emits: one truth for the handlers (which publish them through
 * Powertools), the dashboard and the alarms (which read them). Core never imports Powertools: it
 * reports through a MetricSink, which the functions implement.
 */

/** The namespace every metric of every stage lands in; stages are told apart by the `stage` dimension. */
export const METRICS_NAMESPACE = "HlsS2Downloader";
/** Powertools' service (POWERTOOLS_SERVICE_NAME): Powertools adds it as a dimension to every metric. */
export const METRICS_SERVICE = "hls-s2-downloader";

/**
 * The dimensions, few on purpose: `service` (Powertools' own), `stage` and `hubKind` on every metric,
 * `errorName` only on the error counts. No per-platform dimension on the per-granule figures:
 * "CloudWatch needs raw data points to calculate percentile statistics" (GetMetricStatistics), so a
 * p95 over all platforms could not be rebuilt from per-platform series by metric math.
 */
export const METRIC_DIMENSIONS = {
  service: "service",
  stage: "stage",
  hubKind: "hubKind",
  errorName: "errorName",
} as const;

/** CloudWatch units the code uses (Powertools' MetricUnit values of the same spelling). */
export type MetricUnitName = "Count" | "Bytes" | "Seconds" | "Megabytes/Second" | "Percent";

interface MetricSpec {
  unit: MetricUnitName;
  /** Who emits it: the dashboard groups by it. */
  source: "summarize" | "search" | "download" | "hub";
  /** True when the metric carries the `errorName` dimension besides the stage's. */
  byErrorName?: true;
  description: string;
}

/** Every metric the code emits, by name. */
export const METRICS = {
  // Summarize: per run, counts of the window it covers (the alarms' source).
  GranulesDownloaded: {
    unit: "Count",
    source: "summarize",
    description: "DOWNLOADED granules of the window",
  },
  GranulesFailed: { unit: "Count", source: "summarize", description: "FAILED granules of the window" },
  GranulesPending: {
    unit: "Count",
    source: "summarize",
    description: "DISCOVERED or DOWNLOADING granules of the window",
  },
  // Emitted by Summarize once merged with the ledger branch's tally (found = recorded + filtered).
  GranulesMissing: {
    unit: "Count",
    source: "summarize",
    description: "recorded granules missing from the status index",
  },
  GranulesFiltered: {
    unit: "Count",
    source: "summarize",
    description: "search results filtered out (tile, platform, age)",
  },
  BytesDownloaded: {
    unit: "Bytes",
    source: "summarize",
    description: "bytes of the window's DOWNLOADED granules",
  },
  UploadsAborted: { unit: "Count", source: "summarize", description: "abandoned multipart uploads aborted" },
  // Summarize and the age report (every few minutes): the safety net, over twice the reconciliation horizon.
  UnfinishedGranules: {
    unit: "Count",
    source: "summarize",
    description: "granules not ended (DOWNLOADED, or FAILED for a terminal reason) of recent days",
  },
  UnfinishedGranulesOld: {
    unit: "Count",
    source: "summarize",
    description: "unfinished granules published longer ago than UNFINISHED_AGE_ALARM_HOURS",
  },
  OldestUnfinishedAge: {
    unit: "Seconds",
    source: "summarize",
    description: "publication → now of the oldest unfinished granule",
  },
  QueriesFailed: {
    unit: "Count",
    source: "summarize",
    description: "(day, platform) searches of the window that failed for good and were not read since",
  },
  // Summarize, for the day that closed last when its run searched it (usecases/report-day.ts): the day's
  // S2MSI1C count and that count against its median over the 7 days before (the DayProductsLow alarm).
  DayProductsFound: {
    unit: "Count",
    source: "summarize",
    description:
      "S2MSI1C products the searches found for the day that closed last (found − filtered by level)",
  },
  DayProductsOfMedian: {
    unit: "Percent",
    source: "summarize",
    description: "DayProductsFound as a share of its median over the 7 days before",
  },
  // FetchPage, on a stage with push on: granules a search recorded that no push had recorded first.
  GranulesMissedByPush: {
    unit: "Count",
    source: "search",
    description: "granules a search recorded first on a stage with push enabled (the push never sent them)",
  },
  // Download: one value per granule verified in the bucket.
  GranuleBytes: { unit: "Bytes", source: "download", description: "size of the verified object" },
  GranuleSeconds: {
    unit: "Seconds",
    source: "download",
    description: "duration of the attempt that finished it",
  },
  GranuleThroughput: {
    unit: "Megabytes/Second",
    source: "download",
    description: "bytes moved by that attempt per second (MB = 10^6 bytes)",
  },
  GranuleBytesResumed: {
    unit: "Bytes",
    source: "download",
    description: "bytes an earlier attempt had uploaded and this one continued from",
  },
  GranuleAttempts: {
    unit: "Count",
    source: "download",
    description: "claims the granule took (1: first try)",
  },
  GranuleLatency: {
    unit: "Seconds",
    source: "download",
    description: "from the hub's publication time to the verified object",
  },
  DownloadFailed: {
    unit: "Count",
    source: "download",
    byErrorName: true,
    description: "failed download attempts by error name",
  },
  UploadsUnrecorded: {
    unit: "Count",
    source: "download",
    description:
      "claims that found an earlier attempt's CreateMultipartUpload never recorded (its upload is looked for and aborted)",
  },
  LeasesLost: {
    unit: "Count",
    source: "download",
    description: "downloads that found their lease taken over by another worker and left the granule to it",
  },
  // Download: the hub quota (core/src/adapters/store/slots.ts) as each Download finds it.
  HubSlotsInUse: {
    unit: "Count",
    source: "download",
    description: "hub slots held under a live lease just after this download took one (itself included)",
  },
  HubSlotQuota: {
    unit: "Count",
    source: "download",
    description: "the hub quota in force (HUB_DOWNLOAD_SLOTS or `ops slots`) at that moment",
  },
  HubSlotWaits: {
    unit: "Count",
    source: "download",
    description: "downloads that found every hub slot held (HubSlotsBusyError; the state machine waits)",
  },
  // Hub client: one count per HTTP response (by status class) and per failed attempt (by error name).
  HubResponses2xx: { unit: "Count", source: "hub", description: "hub answers with a 2xx status" },
  HubResponses4xx: {
    unit: "Count",
    source: "hub",
    description: "hub answers with a 4xx status other than 429",
  },
  HubResponses429: { unit: "Count", source: "hub", description: "hub answers 429 Too Many Requests" },
  HubResponses5xx: { unit: "Count", source: "hub", description: "hub answers with a 5xx status" },
  HubErrors: {
    unit: "Count",
    source: "hub",
    byErrorName: true,
    description: "failed hub request attempts (retried or not) by error name",
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/** Where core reports a metric value; the functions publish it through Powertools. */
export interface MetricSink {
  add(name: MetricName, value: number, dimensions?: { errorName: string }): void;
}

/** The status classes the hub client counts. */
export type HubStatusClass = "2xx" | "4xx" | "429" | "5xx";

/** The class of an HTTP status, or undefined for 1xx/3xx (redirects are followed, never final). */
export function hubStatusClass(status: number): HubStatusClass | undefined {
  if (status === 429) return "429";
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status >= 500 && status < 600) return "5xx";
  return undefined;
}

const STATUS_CLASS_METRIC: Record<HubStatusClass, MetricName> = {
  "2xx": "HubResponses2xx",
  "4xx": "HubResponses4xx",
  "429": "HubResponses429",
  "5xx": "HubResponses5xx",
};

/** The metric that counts hub answers of a status class. */
export function hubResponseMetric(statusClass: HubStatusClass): MetricName {
  return STATUS_CLASS_METRIC[statusClass];
}
