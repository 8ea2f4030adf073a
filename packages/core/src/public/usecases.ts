// @hls-s2/core/usecases: What each Lambda handler runs, given its dependencies.
// What other packages import; core's own modules and tests import the modules themselves.

export type { DeliveryLine } from "../usecases/delivery-manifest";
export { DELIVERY_MANIFEST_PREFIX, deliveryManifestKey } from "../usecases/delivery-manifest";
export type { DownloadDeps } from "../usecases/download";
export { downloadGranule } from "../usecases/download";
export type { FetchLinksDeps } from "../usecases/fetch-page";
export { fetchPage } from "../usecases/fetch-page";
export type { WindowInput } from "../usecases/generate-queries";
export { planWindow } from "../usecases/generate-queries";
export {
  isInvalidPush,
  PUSH_MAX_BODY_BYTES,
  parsePushNotification,
  recordPushedGranule,
} from "../usecases/receive-push";
export { recordQueryFailure } from "../usecases/record-query-failure";
export type { DayReport, Equation } from "../usecases/report-day";
export { reportClosedDays, reportDay } from "../usecases/report-day";
export {
  ABNORMAL_END_MARGIN_MS,
  PUSH_DOWNLOAD_INPUT,
  PUSHED_DOWNLOADS_INTERVAL_MINUTES,
  startPushedDownloads,
} from "../usecases/start-pushed-downloads";
export type { TallyStore, WindowFailures } from "../usecases/summarize";
export { countWindowFailures, summarizeWindow } from "../usecases/summarize";
export { sweepAbandonedUploads } from "../usecases/sweep-uploads";
export type { UnfinishedAge } from "../usecases/unfinished-age";
export { measureUnfinishedAge, reportUnfinishedAge } from "../usecases/unfinished-age";
export { manifestKeyFor, writeManifest } from "../usecases/write-manifest";
