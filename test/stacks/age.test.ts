import { beforeAll, describe, expect, it } from "vitest";
import { AGE_REPORT_SCHEDULE } from "../../stacks/Schedule";
import { resourcesOfType } from "./helpers";
import { flattenIntrinsics, type SynthesizedApp, synthesizeApp } from "./synthesized";

// The safety net of issue 22: the unfinished granules' age, on its own schedule, alarmed and graphed.

let test: SynthesizedApp;

beforeAll(async () => {
  test = await synthesizeApp({
    stage: "test",
    settings: { unfinishedAgeAlarmHours: 30, scheduleEnabled: true },
  });
});

describe("the age safety net", () => {
  it("runs the age report every 15 minutes on a stage that runs on its own, with the horizon and threshold", () => {
    const schedule = test.templates.Schedule!;
    const [reportId, report] = resourcesOfType(schedule, "AWS::Lambda::Function").find(([id]) =>
      id.startsWith("ReportAgeFunction"),
    )!;
    const rules = resourcesOfType(schedule, "AWS::Events::Rule").map(([, rule]) => rule.Properties ?? {});
    const rule = rules.find((properties) => properties["ScheduleExpression"] === AGE_REPORT_SCHEDULE);
    expect(AGE_REPORT_SCHEDULE).toBe("rate(15 minutes)");
    expect(rule).toMatchObject({ State: "ENABLED" });
    expect(JSON.stringify(rule?.["Targets"])).toContain(reportId);
    const variables = (report.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables;
    expect(variables).toMatchObject({
      FUNCTION_NAME: "ReportAge",
      RECONCILIATION_HORIZON_DAYS: "7",
      UNFINISHED_AGE_ALARM_HOURS: "30",
    });
  });

  it("alarms, with the topic as its action, when a granule is unfinished past the threshold or no figure comes", () => {
    const alarms = resourcesOfType(test.templates.Alarms, "AWS::CloudWatch::Alarm").map(
      ([, alarm]) => alarm.Properties ?? {},
    );
    const age = alarms.find((alarm) => alarm["MetricName"] === "UnfinishedGranulesOld");
    expect(age).toMatchObject({
      Statistic: "Maximum",
      Period: 3600,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "breaching",
    });
    expect(String(age?.["AlarmDescription"])).toContain("30 h");
    const topics = resourcesOfType(test.templates.Alarms, "AWS::SNS::Topic").map(([id]) => id);
    expect(topics).toHaveLength(1);
    expect(age?.["AlarmActions"]).toEqual([{ Ref: topics[0] }]);
  });

  it("graphs the unfinished granules, those past the threshold and the oldest's age against the alarm", () => {
    const template = test.templates.Alarms!;
    const [, dashboard] = resourcesOfType(template, "AWS::CloudWatch::Dashboard")[0]!;
    const others = Object.values(test.templates).filter((other) => other !== undefined);
    const body = JSON.parse(
      String(flattenIntrinsics(dashboard.Properties?.DashboardBody, template, test.region, others)),
    ) as { widgets: { properties: { title?: string; metrics?: unknown[]; annotations?: unknown } }[] };
    const widget = body.widgets.find((w) => w.properties.title?.startsWith("Unfinished granules"));
    const metrics = JSON.stringify(widget?.properties.metrics);
    for (const name of ["UnfinishedGranules", "UnfinishedGranulesOld", "OldestUnfinishedAge"]) {
      expect(metrics).toContain(`"${name}"`);
    }
    expect(JSON.stringify(widget?.properties.annotations)).toContain(String(30 * 3600));
  });
});
