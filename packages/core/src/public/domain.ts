// @hls-s2/core/domain: The downloader's vocabulary: days, granules and their records, filters, sizes, tallies, latency and metric names.
// What other packages import; core's own modules and tests import the modules themselves.
export { DAY_MS, daysBetween, formatDay, isValidDay, yesterdayOf } from "../domain/day";
export type { FilterRules } from "../domain/filters";
export { FILTER_REASONS, quoteValue } from "../domain/filters";
export type { DiscoveredGranule, GranuleRecord, Platform } from "../domain/granule";
export { GRANULE_STATUSES, isPlatform, objectKeyFor, PLATFORMS, TABLE_SCHEMA } from "../domain/granule";
export type { DayLatency } from "../domain/latency";
export { formatLatencyLines, latencyByDay } from "../domain/latency";
export type { MetricName, MetricSink } from "../domain/metrics";
export {
  METRIC_DIMENSIONS,
  METRIC_NAMES,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
} from "../domain/metrics";
export { formatBytes, parseByteSize, parseSize } from "../domain/size";
export type { DayTally, FailedQuery, GranuleTally, WindowSummary } from "../domain/tally";
export { emptyTally, TALLY_COUNT_KEYS } from "../domain/tally";
