import {
  countWindowFailures,
  measureUnfinishedAge,
  reportClosedDays,
  reportUnfinishedAge,
  summarizeWindow,
  sweepAbandonedUploads,
  type WindowFailures,
} from "@hls-s2/core/usecases";
import * as v from "valibot";
import { DAY, parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { metricSink, metrics } from "./lib/metrics";
import { getConfig, getS3, getStore, getWorkS3 } from "./lib/runtime";

// countWindow is absent from the input of an execution started before it existed: count the window.
const INPUT = v.object({ from: DAY, to: DAY, countWindow: v.optional(v.boolean(), true) });

/**
 * Summarize: aborts the window's uploads nobody will continue (HLS's bucket grants no list, and may
 * have no abort rule when imported), then the window's counts and the unfinished granules' age as the
 * execution output and metrics; for the closed days, their delivery manifests and the day's count.
 * A pushed-granules run (countWindow false) counts the window's FAILED granules only.
 */
export async function handler(event: {
  from: string;
  to: string;
  countWindow: false;
}): Promise<WindowFailures>;
export async function handler(event: { from: string; to: string; countWindow?: true }): Promise<WindowReport>;
export async function handler(event: unknown): Promise<WindowFailures | WindowReport>;
export async function handler(event: unknown): Promise<WindowFailures | WindowReport> {
  const { countWindow, ...input } = parseInput(INPUT, event);
  if (countWindow) return summarizeWholeWindow(input);
  const failures = await countWindowFailures(input, { store: getStore() });
  metricSink.add("GranulesFailed", failures.failed);
  metrics.publishStoredMetrics();
  logger.info("failures of the window", { ...failures });
  return failures;
}

type WindowReport = Awaited<ReturnType<typeof summarizeWholeWindow>>;

async function summarizeWholeWindow(input: { from: string; to: string }) {
  const config = getConfig("Summarize");
  const sweep = await sweepAbandonedUploads(input, {
    store: getStore(),
    s3: getS3(),
    bucket: config.bucketName,
    leaseMs: config.leaseSeconds * 1000,
  });
  logger.info("swept uploads", {
    aborted: sweep.aborted,
    failed: sweep.failed,
    completing: sweep.completing,
  });
  const summary = await summarizeWindow(input, { store: getStore() });
  const { downloaded, failed, pending, missing, filtered, bytes } = summary.totals;
  metricSink.add("GranulesDownloaded", downloaded);
  metricSink.add("GranulesFailed", failed);
  metricSink.add("GranulesPending", pending);
  metricSink.add("GranulesMissing", missing);
  metricSink.add("GranulesFiltered", filtered);
  metricSink.add("BytesDownloaded", bytes);
  metricSink.add("UploadsAborted", sweep.aborted.length);
  metricSink.add("QueriesFailed", summary.failedQueries.length);
  const { reconciliationHorizonDays, unfinishedAgeAlarmHours } = config;
  const unfinishedAge = await measureUnfinishedAge(
    { store: getStore() },
    { horizonDays: reconciliationHorizonDays, thresholdHours: unfinishedAgeAlarmHours },
  );
  reportUnfinishedAge(unfinishedAge, metricSink);
  const closed = await reportClosedDays(summary, {
    store: getStore(),
    s3: getWorkS3(),
    bucket: config.workBucketName,
    metrics: metricSink,
  });
  metrics.publishStoredMetrics();
  logger.info("summary", {
    from: summary.from,
    to: summary.to,
    totals: summary.totals,
    latency: summary.latency.filter((day) => day.count > 0),
  });
  if (summary.failedQueries.length > 0)
    logger.error("searches failed", { failedQueries: summary.failedQueries });
  return {
    ...summary,
    sweptUploads: { aborted: sweep.aborted.length, failed: sweep.failed.length },
    unfinishedAge,
    deliveryManifests: closed.manifests,
    ...(closed.products !== undefined && { dayProducts: closed.products }),
  };
}
