import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import { type StackContext, use } from "sst/constructs";
import { buildDashboard, stageMetric } from "./Dashboard";
import { Push } from "./Push";
import { ageReportEnabled } from "./Schedule";
import { useStageSettings } from "./settings";
import { Workflow } from "./Workflow";

/** An SNS topic (optionally mailed), the alarms an operator acts on and the stage's dashboard. */
export function Alarms({ stack, app }: StackContext) {
  const settings = useStageSettings(app);
  const { stateMachine, functions } = use(Workflow);
  const push = use(Push);
  const topic = new sns.Topic(stack, "AlarmTopic", {
    displayName: `HLS S2 downloader alarms (${app.stage})`,
    // Denies publishing over plain HTTP (cdk-nag AwsSolutions-SNS3); CloudWatch publishes over TLS.
    enforceSSL: true,
  });
  if (settings.alarmEmail !== undefined) {
    topic.addSubscription(new subscriptions.EmailSubscription(settings.alarmEmail));
  }
  const notify = new actions.SnsAction(topic);
  // The metric with exactly the dimensions the functions emit (service, stage, hub kind).
  const summaryMetric = (metricName: "GranulesFailed" | "GranulesDownloaded", statistic: string) =>
    stageMetric(settings, metricName, statistic, Duration.days(1));

  const alarms = [
    // A whole execution failed: GenerateQueries, FetchLinks, WriteManifest or the Map itself
    // (more than the tolerated share of granules failed). Redrive it once the cause is fixed.
    new cloudwatch.Alarm(stack, "ExecutionsFailed", {
      alarmDescription:
        "A daily or backfill execution failed: open it in the Step Functions console, fix, Redrive",
      metric: stateMachine.metricFailed({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    // Summarize reports the FAILED count of each day it covers; Maximum reads it per day.
    new cloudwatch.Alarm(stack, "GranulesFailed", {
      alarmDescription: `More than ${settings.failedGranulesAlarmThreshold} granules of one day are FAILED`,
      metric: summaryMetric("GranulesFailed", "Maximum"),
      threshold: settings.failedGranulesAlarmThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    // A (day, platform) search that failed for good (after its retries): its iteration ended without
    // failing the execution, so only this says the day's manifest may lack that query's granules.
    new cloudwatch.Alarm(stack, "QueriesFailed", {
      alarmDescription:
        "A (day, platform) search failed for good: see the Summarize output's failedQueries or `ops status`, fix, run the day again",
      metric: stageMetric(settings, "QueriesFailed", "Maximum", Duration.hours(1)),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    // p95 over a day of granules verified in the bucket: one slow granule does not page anyone,
    // a day whose granules mostly wait too long does.
    new cloudwatch.Alarm(stack, "GranuleLatencyHigh", {
      alarmDescription: `p95 publication → verified-object latency of a day over ${settings.latencyAlarmHours} h (LATENCY_ALARM_HOURS)`,
      metric: stageMetric(settings, "GranuleLatency", "p95", Duration.days(1)),
      threshold: settings.latencyAlarmHours * 3600,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No granule verified means no latency: NoGranulesDownloaded speaks for that.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    // The safety net for any path nobody foresaw: a granule neither downloaded nor failed for a
    // terminal reason, published longer ago than UNFINISHED_AGE_ALARM_HOURS. Measured every 15 minutes
    // (Schedule's age report) and by every Summarize.
    new cloudwatch.Alarm(stack, "UnfinishedGranulesOld", {
      alarmDescription: `Granules unfinished more than ${settings.unfinishedAgeAlarmHours} h after publication (UNFINISHED_AGE_ALARM_HOURS): \`npm run ops -- status\` names the oldest`,
      metric: stageMetric(settings, "UnfinishedGranulesOld", "Maximum", Duration.hours(1)),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // Where the age report runs, no figure means the report is down; elsewhere only Summarize reports.
      treatMissingData: ageReportEnabled(settings)
        ? cloudwatch.TreatMissingData.BREACHING
        : cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
  ];
  // With push on, what the searches record first the push never sent: more than the setting in an hour
  // is a dead subscription (FetchPage emits GranulesMissedByPush only where push is on).
  if (settings.pushEnabled) {
    alarms.push(
      new cloudwatch.Alarm(stack, "GranulesMissedByPush", {
        alarmDescription: `Searches recorded more than ${settings.pushMissedAlarmPerHour} granules in an hour that no push sent (PUSH_MISSED_ALARM_PER_HOUR): \`npm run subscriptions -- list\``,
        metric: stageMetric(settings, "GranulesMissedByPush", "Sum", Duration.hours(1)),
        threshold: settings.pushMissedAlarmPerHour,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
  if (settings.scheduleEnabled) {
    alarms.push(
      // Only the daily run reports a closed day's count (the test stage has none).
      // The day's S2MSI1C count below half its median over the 7 days before: ESA's move to Zarr products
      // (type S02MSIL1C), an API change or a dead search. Summarize computes the share (core
      // usecases/report-day.ts): metric math has no median of a metric's own past, and every metric of an
      // alarm shares its period, so a day cannot be compared with its week in CloudWatch.
      new cloudwatch.Alarm(stack, "DayProductsLow", {
        alarmDescription:
          "Yesterday's S2MSI1C count is below half its 7-day median: product type, hub API or search changed? `npm run ops -- report --day D`",
        metric: stageMetric(settings, "DayProductsOfMedian", "Minimum", Duration.days(1)),
        threshold: 50,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // Emitted once a day by the daily run, and only with a median: silence is not a low count.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
  // Without a schedule and downloads nothing is expected to arrive, so silence is not an outage.
  if (settings.scheduleEnabled && settings.downloadsEnabled) {
    alarms.push(
      new cloudwatch.Alarm(stack, "NoGranulesDownloaded", {
        alarmDescription:
          "No granule was downloaded in 24 hours (or Summarize did not run): hub, secret or schedule",
        metric: summaryMetric("GranulesDownloaded", "Sum"),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // No datapoint at all means Summarize never ran, which is the worst case.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
  }
  for (const alarm of alarms) alarm.addAlarmAction(notify);
  const dashboard = buildDashboard(stack, {
    settings,
    stateMachine,
    functions: { ...functions, ...(push.enabled && { ReceivePush: push.receiver }) },
    alarms,
  });

  stack.addOutputs({ AlarmTopicArn: topic.topicArn, DashboardName: dashboard.dashboardName });
  return { topic, alarms, dashboard };
}
