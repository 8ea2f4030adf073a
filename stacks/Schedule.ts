import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import { type StackContext, use } from "sst/constructs";
import { suppressIndexGrantFinding } from "./findings";
import { sizedFunction } from "./functions";
import { Storage } from "./Storage";
import { useStageSettings } from "./settings";
import { Workflow } from "./Workflow";

/** 12:00 UTC leaves the hubs the morning to publish yesterday's granules. */
export const DAILY_SCHEDULE = "cron(0 12 * * ? *)";

/** How often the age safety net is measured between runs (the UnfinishedGranulesOld alarm's source). */
export const AGE_REPORT_SCHEDULE = "rate(15 minutes)";

/** Whether the age report's rule runs: where the stage runs on its own (schedule or push). */
export function ageReportEnabled(settings: { scheduleEnabled: boolean; pushEnabled: boolean }): boolean {
  return settings.scheduleEnabled || settings.pushEnabled;
}

/** The only table call of the age report: Query of the (day, status) index. */
export const AGE_REPORT_TABLE_ACTIONS = ["dynamodb:Query"] as const;

/**
 * The daily EventBridge rule that starts one execution with input `{}` (the default window); on a
 * stage without the schedule the same rule exists DISABLED, so turning SCHEDULE_ENABLED off on a
 * deployed stage switches it off (a stack that left the app would keep its rule ENABLED). And the age
 * report every 15 minutes (ageReportEnabled): it reads the table only, and the age alarm fires on it.
 */
export function Schedule({ stack, app }: StackContext) {
  const settings = useStageSettings(app);
  const { stateMachine } = use(Workflow);
  const storage = use(Storage);
  const rule = new events.Rule(stack, "DailyRun", {
    description: "Starts the HLS Sentinel-2 downloader for the previous day",
    enabled: settings.scheduleEnabled,
    schedule: events.Schedule.expression(DAILY_SCHEDULE),
    targets: [new targets.SfnStateMachine(stateMachine, { input: events.RuleTargetInput.fromObject({}) })],
  });

  const ageReport = sizedFunction(stack, settings, "ReportAge", {
    file: "report-age",
    values: { STAGE: app.stage, TABLE_NAME: storage.table.tableName },
  });
  storage.table.grant(ageReport, ...AGE_REPORT_TABLE_ACTIONS);
  suppressIndexGrantFinding([ageReport], "Query reads the (day, status) index");
  // On wherever the stage runs on its own (the schedule or push); DISABLED elsewhere, like the daily rule,
  // where each Summarize still reports the age.
  const ageRule = new events.Rule(stack, "AgeReport", {
    description: "Measures the unfinished granules of recent days by age (the age alarm's source)",
    enabled: ageReportEnabled(settings),
    schedule: events.Schedule.expression(AGE_REPORT_SCHEDULE),
    targets: [new targets.LambdaFunction(ageReport)],
  });
  return { rule, ageReport, ageRule };
}
