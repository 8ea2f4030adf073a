import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import { type StackContext, use } from "sst/constructs";
import { useStageSettings } from "./settings";
import { Workflow } from "./Workflow";

/** 12:00 UTC leaves the hubs the morning to publish yesterday's granules. */
export const DAILY_SCHEDULE = "cron(0 12 * * ? *)";

/**
 * The daily EventBridge rule that starts one execution with input `{}` (the default window); on a
 * stage without the schedule the same rule exists DISABLED, so turning SCHEDULE_ENABLED off on a
 * deployed stage switches it off (a stack that left the app would keep its rule ENABLED).
 */
export function Schedule({ stack, app }: StackContext) {
  const { scheduleEnabled } = useStageSettings(app);
  const { stateMachine } = use(Workflow);
  const rule = new events.Rule(stack, "DailyRun", {
    description: "Starts the HLS Sentinel-2 downloader for the previous day",
    enabled: scheduleEnabled,
    schedule: events.Schedule.expression(DAILY_SCHEDULE),
    targets: [new targets.SfnStateMachine(stateMachine, { input: events.RuleTargetInput.fromObject({}) })],
  });
  return { rule };
}
