import { METRIC_DIMENSIONS, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from "@hls-s2/core/domain";
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import type { StageSettings } from "./settings";

type MetricStage = Pick<StageSettings, "stage" | "hubKind">;

/**
 * One of the code's metrics (core/src/domain/metrics.ts) as this stage emits it. A CloudWatch metric is
 * identified by its namespace, name and every dimension, so the dimensions must be exactly the
 * ones the functions put on it (lib/metrics.ts): Powertools' service, the stage and the hub kind.
 */
export function stageMetric(
  settings: MetricStage,
  name: MetricName,
  statistic: string,
  period: Duration,
  label?: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: {
      [METRIC_DIMENSIONS.service]: METRICS_SERVICE,
      [METRIC_DIMENSIONS.stage]: settings.stage,
      [METRIC_DIMENSIONS.hubKind]: settings.hubKind,
    },
    statistic,
    period,
    ...(label !== undefined && { label }),
  });
}

/**
 * One line per error name of a metric counted by error name. A search, not a fixed list: a new error
 * class shows up without a deploy ("A search expression … can return up to 500 time series"; it
 * "cannot be used within an Alarm", which only the dashboard needs here).
 */
export function errorNameSearch(
  settings: MetricStage,
  name: MetricName,
  period: Duration,
): cloudwatch.SearchExpression {
  const { service, stage, hubKind, errorName } = METRIC_DIMENSIONS;
  const schema = [METRICS_NAMESPACE, errorName, hubKind, service, stage].join(",");
  return new cloudwatch.SearchExpression({
    expression: `SEARCH('{${schema}} MetricName="${name}" ${stage}="${settings.stage}" ${hubKind}="${settings.hubKind}"', 'Sum', ${period.toSeconds()})`,
    label: "",
    period,
  });
}

export interface DashboardProps {
  settings: MetricStage &
    Pick<
      StageSettings,
      "latencyAlarmHours" | "hubDownloadSlots" | "unfinishedAgeAlarmHours" | "pushMissedAlarmPerHour"
    >;
  stateMachine: sfn.IStateMachine;
  functions: Record<string, lambda.IFunction>;
  alarms: cloudwatch.IAlarm[];
}

/** The stage's CloudWatch dashboard: how far the day is, how fast the hub gives, what fails, what Lambda does. */
export function buildDashboard(scope: Construct, props: DashboardProps): cloudwatch.Dashboard {
  const { settings, stateMachine, functions, alarms } = props;
  const hour = Duration.hours(1);
  const day = Duration.days(1);
  const metric = (name: MetricName, statistic: string, period: Duration, label?: string) =>
    stageMetric(settings, name, statistic, period, label ?? `${name} (${statistic})`);
  const graph = (
    title: string,
    left: cloudwatch.IMetric[],
    extra: Partial<cloudwatch.GraphWidgetProps> = {},
  ) => new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, ...extra });

  const dashboard = new cloudwatch.Dashboard(scope, "Dashboard", {
    dashboardName: `${METRICS_SERVICE}-${settings.stage}`,
    defaultInterval: Duration.days(7),
  });
  dashboard.addWidgets(
    new cloudwatch.TextWidget({
      markdown: `# HLS S2 downloader — ${settings.stage} (${settings.hubKind})\nMetric names: packages/core/src/domain/metrics.ts. Latency alarm: p95 over ${settings.latencyAlarmHours} h.`,
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(
    // Summarize reports each run's window; Maximum per day is the day's latest count.
    graph(
      "Granules per day by status (Summarize)",
      [
        metric("GranulesDownloaded", "Maximum", day),
        metric("GranulesFailed", "Maximum", day),
        metric("GranulesPending", "Maximum", day),
        metric("GranulesMissing", "Maximum", day),
        metric("GranulesFiltered", "Maximum", day),
        metric("UploadsAborted", "Sum", day),
        metric("QueriesFailed", "Maximum", day),
      ],
      {
        right: [metric("BytesDownloaded", "Maximum", day)],
      },
    ),
    graph(
      "Bytes and MB/s",
      [metric("GranuleBytes", "Sum", hour), metric("GranuleBytesResumed", "Sum", hour)],
      {
        right: [metric("GranuleThroughput", "p50", hour), metric("GranuleThroughput", "Average", hour)],
        rightYAxis: { label: "MB/s", showUnits: false },
      },
    ),
  );
  dashboard.addWidgets(
    graph(
      "Publication → verified object latency (s)",
      [metric("GranuleLatency", "p50", hour), metric("GranuleLatency", "p95", hour)],
      {
        leftAnnotations: [{ value: settings.latencyAlarmHours * 3600, label: "p95 alarm" }],
      },
    ),
    graph(
      "Download duration (s) and attempts per granule",
      [metric("GranuleSeconds", "p50", hour), metric("GranuleSeconds", "p95", hour)],
      {
        right: [metric("GranuleAttempts", "Average", hour), metric("GranuleAttempts", "Maximum", hour)],
      },
    ),
  );
  // Completeness: the daily run's count of yesterday against its week, and what the push never sent.
  dashboard.addWidgets(
    graph(
      "Yesterday's S2MSI1C count vs its 7-day median (daily run)",
      [metric("DayProductsFound", "Maximum", day)],
      {
        right: [metric("DayProductsOfMedian", "Minimum", day, "% of median")],
        rightAnnotations: [{ value: 50, label: "DayProductsLow alarm (%)" }],
        rightYAxis: { min: 0, showUnits: false },
      },
    ),
    graph(
      "Granules the searches found first (push missed them)",
      [metric("GranulesMissedByPush", "Sum", hour)],
      { leftAnnotations: [{ value: settings.pushMissedAlarmPerHour, label: "alarm (per hour)" }] },
    ),
  );
  // The safety net: every 15 minutes and every Summarize, the unfinished granules of recent days.
  const quarter = Duration.minutes(15);
  dashboard.addWidgets(
    graph(
      "Unfinished granules and the oldest's age (safety net)",
      [metric("UnfinishedGranules", "Maximum", quarter), metric("UnfinishedGranulesOld", "Maximum", quarter)],
      {
        right: [metric("OldestUnfinishedAge", "Maximum", quarter)],
        rightAnnotations: [{ value: settings.unfinishedAgeAlarmHours * 3600, label: "age alarm (s)" }],
        width: 24,
      },
    ),
  );
  dashboard.addWidgets(
    graph("Failed download attempts by error name", [errorNameSearch(settings, "DownloadFailed", hour)]),
    graph("Failed hub requests by error name", [errorNameSearch(settings, "HubErrors", hour)]),
  );
  const responses = (
    ["HubResponses2xx", "HubResponses4xx", "HubResponses429", "HubResponses5xx"] as const
  ).map((name) => metric(name, "Sum", Duration.minutes(5), name));
  const [ok, client, throttled, server] = responses as [
    cloudwatch.Metric,
    cloudwatch.Metric,
    cloudwatch.Metric,
    cloudwatch.Metric,
  ];
  dashboard.addWidgets(
    graph("Hub answers by status class (per 5 min)", responses),
    graph("Hub 429 and 5xx rates (% of answers)", [
      new cloudwatch.MathExpression({
        expression: "100 * t / (ok + c + t + s)",
        usingMetrics: { ok, c: client, t: throttled, s: server },
        label: "429 %",
        period: Duration.minutes(5),
      }),
      new cloudwatch.MathExpression({
        expression: "100 * s / (ok + c + t + s)",
        usingMetrics: { ok, c: client, t: throttled, s: server },
        label: "5xx %",
        period: Duration.minutes(5),
      }),
    ]),
  );
  // The quota's gauge is sampled when a download takes a slot: Maximum is the fullest moment of the
  // period, Average the typical one; HubSlotQuota follows `ops slots`, the annotation is the deploy default.
  const fiveMinutes = Duration.minutes(5);
  dashboard.addWidgets(
    graph(
      "Hub slots in use vs the quota",
      [
        metric("HubSlotsInUse", "Maximum", fiveMinutes),
        metric("HubSlotsInUse", "Average", fiveMinutes),
        metric("HubSlotQuota", "Maximum", fiveMinutes, "HubSlotQuota (in force)"),
      ],
      {
        leftAnnotations: [{ value: settings.hubDownloadSlots, label: "HUB_DOWNLOAD_SLOTS (deploy)" }],
        leftYAxis: { min: 0, showUnits: false },
      },
    ),
    // A granule waiting long counts once per retry of its HubSlotsBusyError (SLOT_WAIT_RETRY's backoff).
    graph("Waits for a hub slot, leases lost, unrecorded uploads (per 5 min)", [
      metric("HubSlotWaits", "Sum", fiveMinutes, "HubSlotsBusyError"),
      // A download that found its lease taken over left the granule to the new holder.
      metric("LeasesLost", "Sum", fiveMinutes, "LeasesLost"),
      // An attempt died between S3 creating its upload and the table recording it (aborted at the next claim).
      metric("UploadsUnrecorded", "Sum", fiveMinutes, "UploadsUnrecorded"),
    ]),
  );
  // "These are dimensionless metrics that apply across your account in a region" (Step Functions,
  // Map Run Metrics): every Distributed Map of the account, not only this stage's.
  const mapRun = (metricName: string) =>
    new cloudwatch.Metric({
      namespace: "AWS/States",
      metricName,
      statistic: "Maximum",
      period: Duration.minutes(5),
    });
  dashboard.addWidgets(
    graph("Executions (this state machine)", [
      stateMachine.metricStarted({ period: hour }),
      stateMachine.metricSucceeded({ period: hour }),
      stateMachine.metricFailed({ period: hour }),
      stateMachine.metricTimedOut({ period: hour }),
    ]),
    graph("Map Runs (account)", [
      mapRun("ApproximateOpenMapRunCount"),
      mapRun("ApproximateMapRunBacklogSize"),
    ]),
  );
  const perFunction = (pick: (fn: lambda.IFunction, name: string) => cloudwatch.IMetric) =>
    Object.entries(functions).map(([name, fn]) => pick(fn, name));
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: "Lambda duration p95 (ms)",
      left: perFunction((fn, name) => fn.metricDuration({ statistic: "p95", period: hour, label: name })),
      width: 8,
      height: 6,
    }),
    new cloudwatch.GraphWidget({
      title: "Lambda errors",
      left: perFunction((fn, name) => fn.metricErrors({ period: hour, label: name })),
      width: 8,
      height: 6,
    }),
    new cloudwatch.GraphWidget({
      title: "Lambda throttles",
      left: perFunction((fn, name) => fn.metricThrottles({ period: hour, label: name })),
      width: 8,
      height: 6,
    }),
  );
  dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms, width: 24, height: 3 }));
  return dashboard;
}
