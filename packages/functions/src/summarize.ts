import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { summarizeWindow } from "@hls-s2/core";
import * as v from "valibot";
import { DAY, parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { metrics } from "./lib/metrics";
import { getStore } from "./lib/runtime";

const INPUT = v.object({ from: DAY, to: DAY });

/** Summarize: the window's counts as the execution output and as CloudWatch metrics. */
export async function handler(event: unknown) {
  const input = parseInput(INPUT, event);
  const summary = await summarizeWindow(input, { store: getStore() });
  const { downloaded, failed, pending, missing, filtered, bytes } = summary.totals;
  metrics.addMetric("GranulesDownloaded", MetricUnit.Count, downloaded);
  metrics.addMetric("GranulesFailed", MetricUnit.Count, failed);
  metrics.addMetric("GranulesPending", MetricUnit.Count, pending);
  metrics.addMetric("GranulesMissing", MetricUnit.Count, missing);
  metrics.addMetric("GranulesFiltered", MetricUnit.Count, filtered);
  metrics.addMetric("BytesDownloaded", MetricUnit.Bytes, bytes);
  metrics.publishStoredMetrics();
  logger.info("summary", { from: summary.from, to: summary.to, totals: summary.totals });
  return summary;
}
