import { Metrics } from "@aws-lambda-powertools/metrics";
import type { Config } from "@hls-s2/core/config";
import {
  METRIC_DIMENSIONS,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  type MetricSink,
} from "@hls-s2/core/domain";

/** CloudWatch metrics as EMF log lines; the alarms and the dashboard read this namespace (core/src/domain/metrics.ts). */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });

// The last values set: a runtime reset (local runs, tests) re-parses the same config, and Powertools
// warns on every default dimension set again.
let applied: string | undefined;

/** Makes the stage and the hub kind dimensions of every metric this container emits. */
export function setStageDimensions(config: Pick<Config, "stage" | "hubKind">): void {
  const key = `${config.stage}\n${config.hubKind}`;
  if (applied === key) return;
  applied = key;
  metrics.setDefaultDimensions({
    [METRIC_DIMENSIONS.stage]: config.stage,
    [METRIC_DIMENSIONS.hubKind]: config.hubKind,
  });
}

/**
 * Core's MetricSink on Powertools: a plain value joins the handler's buffer (published once at its
 * end, values of one name aggregated into one EMF line); a value with an error name goes out at
 * once as its own EMF line, because "the `addDimension` method appends the dimension to the first
 * `DimensionSet`" of the buffer, which would put the error name on every metric of the invocation.
 */
export const metricSink: MetricSink = {
  add(name, value, dimensions) {
    const { unit } = METRICS[name];
    if (dimensions === undefined) {
      metrics.addMetric(name, unit, value);
      return;
    }
    const single = metrics.singleMetric();
    single.addDimension(METRIC_DIMENSIONS.errorName, dimensions.errorName);
    single.addMetric(name, unit, value);
  },
};

/** Flushes the buffer, when it holds anything (Powertools warns on every empty publish). */
export function publishMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}
