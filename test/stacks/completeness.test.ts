import { METRIC_DIMENSIONS } from "@hls-s2/core/domain";
import { DELIVERY_MANIFEST_PREFIX } from "@hls-s2/core/usecases";
import { beforeAll, describe, expect, it } from "vitest";
import { DAILY_SCHEDULE } from "../../stacks/Schedule";
import { functionRoleStatements, resourcesOfType } from "./helpers";
import { flattenIntrinsics, type SynthesizedApp, synthesizeApp } from "./synthesized";

// Issue 24's completeness report and its two alarms: the day's S2MSI1C count against its week, and
// the granules the searches found that the push never sent.

let withPush: SynthesizedApp;
let withoutPush: SynthesizedApp;

beforeAll(async () => {
  withPush = await synthesizeApp({
    stage: "test",
    settings: { hubKind: "cdse", pushEnabled: true, pushMissedAlarmPerHour: 40, scheduleEnabled: true },
  });
  withoutPush = await synthesizeApp({ stage: "test", settings: { scheduleEnabled: true } });
});

function alarms(app: SynthesizedApp) {
  return resourcesOfType(app.templates.Alarms, "AWS::CloudWatch::Alarm").map(
    ([, alarm]) => alarm.Properties ?? {},
  );
}

function topicRef(app: SynthesizedApp) {
  const topics = resourcesOfType(app.templates.Alarms, "AWS::SNS::Topic").map(([id]) => id);
  expect(topics).toHaveLength(1);
  return [{ Ref: topics[0] }];
}

function dashboardWidgets(app: SynthesizedApp): { properties: Record<string, unknown> }[] {
  const template = app.templates.Alarms!;
  const [, dashboard] = resourcesOfType(template, "AWS::CloudWatch::Dashboard")[0]!;
  const others = Object.values(app.templates).filter((other) => other !== undefined);
  const body = flattenIntrinsics(dashboard.Properties?.DashboardBody, template, app.region, others);
  return (JSON.parse(String(body)) as { widgets: { properties: Record<string, unknown> }[] }).widgets;
}

describe("the completeness alarms", () => {
  it("alarms, with the topic as its action, when yesterday's S2MSI1C count is below half its 7-day median", () => {
    for (const app of [withPush, withoutPush]) {
      const low = alarms(app).find((alarm) => alarm["MetricName"] === "DayProductsOfMedian");
      expect(low).toMatchObject({
        Statistic: "Minimum",
        Period: 86_400,
        Threshold: 50,
        ComparisonOperator: "LessThanThreshold",
        TreatMissingData: "notBreaching",
        Dimensions: expect.arrayContaining([{ Name: METRIC_DIMENSIONS.stage, Value: "test" }]),
      });
      expect(low?.["AlarmActions"]).toEqual(topicRef(app));
    }
  });

  it("alarms, with the topic as its action, when searches record more granules first in an hour than the setting (push on only)", () => {
    const missed = alarms(withPush).find((alarm) => alarm["MetricName"] === "GranulesMissedByPush");
    expect(missed).toMatchObject({
      Statistic: "Sum",
      Period: 3600,
      Threshold: 40,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "notBreaching",
    });
    expect(missed?.["AlarmActions"]).toEqual(topicRef(withPush));
    expect(alarms(withoutPush).some((alarm) => alarm["MetricName"] === "GranulesMissedByPush")).toBe(false);
  });

  it("graphs the day's count against its median and the granules the push missed, with the alarms' lines", () => {
    const widgets = dashboardWidgets(withPush);
    const titled = (words: string) =>
      widgets.find((widget) => String(widget.properties["title"] ?? "").includes(words));
    const count = titled("S2MSI1C count");
    expect(JSON.stringify(count?.properties["metrics"])).toContain('"DayProductsFound"');
    expect(JSON.stringify(count?.properties["metrics"])).toContain('"DayProductsOfMedian"');
    expect(JSON.stringify(count?.properties["annotations"])).toContain('"value":50');
    const missed = titled("push missed");
    expect(JSON.stringify(missed?.properties["metrics"])).toContain('"GranulesMissedByPush"');
    expect(JSON.stringify(missed?.properties["annotations"])).toContain('"value":40');
  });

  it("keeps the daily rule: 12:00 UTC, input {}", () => {
    expect(DAILY_SCHEDULE).toBe("cron(0 12 * * ? *)");
    const rules = resourcesOfType(withPush.templates.Schedule, "AWS::Events::Rule").map(
      ([, rule]) => rule.Properties ?? {},
    );
    expect(rules.filter((rule) => rule["ScheduleExpression"] === DAILY_SCHEDULE)).toEqual([
      expect.objectContaining({ State: "ENABLED", Targets: [expect.objectContaining({ Input: "{}" })] }),
    ]);
  });
});

describe("the delivery manifest and the missed-push count", () => {
  it("lets Summarize put only delivery/* objects in the work bucket", () => {
    const puts = functionRoleStatements(withPush.templates.Workflow!, "SummarizeFunction").filter(
      (statement) => [statement.Action].flat().includes("s3:PutObject"),
    );
    expect(puts).toHaveLength(1);
    expect(JSON.stringify(puts[0]!.Resource)).toContain(`/${DELIVERY_MANIFEST_PREFIX}*`);
  });

  it("tells FetchPage whether push is on", () => {
    const fetchPage = (app: SynthesizedApp) =>
      resourcesOfType(app.templates.Workflow, "AWS::Lambda::Function").find(([id]) =>
        id.startsWith("FetchPageFunction"),
      )![1];
    const variables = (app: SynthesizedApp) =>
      (fetchPage(app).Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables(withPush)["PUSH_ENABLED"]).toBe("true");
    expect(variables(withoutPush)["PUSH_ENABLED"]).toBe("false");
  });
});
