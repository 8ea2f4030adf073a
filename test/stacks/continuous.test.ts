import { PUSH_ENDPOINT_DISABLED } from "@hls-s2/core/config";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveStageSettings } from "../../stacks/settings";
import { functionId, resourcesOfType } from "./helpers";
import { type SynthesizedApp, synthesizeApp } from "./synthesized";

let prod: SynthesizedApp;
let pollOnly: SynthesizedApp;

beforeAll(async () => {
  prod = await synthesizeApp({ stage: "prod" });
  pollOnly = await synthesizeApp({
    stage: "test",
    settings: { hubKind: "cdse", continuousMode: true, pushEnabled: false, pollIntervalMinutes: 2 },
  });
});

/** The Push stack's rules by logical id prefix. */
function rules(app: SynthesizedApp) {
  return Object.fromEntries(
    resourcesOfType(app.templates.Push, "AWS::Events::Rule").map(([id, rule]) => [
      id.replace(/[0-9A-F]{8}$/, ""),
      rule.Properties as Record<string, unknown>,
    ]),
  );
}

describe("the continuous mode", () => {
  it("is prod's default on CDSE, with push on and a 1 h latency alarm; off elsewhere and on a DHuS prod", () => {
    expect(prod.settings).toMatchObject({ continuousMode: true, pushEnabled: true, latencyAlarmHours: 1 });
    expect(resolveStageSettings("test", {})).toMatchObject({
      continuousMode: false,
      pushEnabled: false,
      latencyAlarmHours: 36,
    });
    expect(
      resolveStageSettings("prod", { HUB_KIND: "dhus", HUB_URL: "https://dhus.example.org" }),
    ).toMatchObject({ continuousMode: false, pushEnabled: false });
    expect(resolveStageSettings("test", { CONTINUOUS_MODE: "true", HUB_KIND: "cdse" })).toMatchObject({
      continuousMode: true,
      pushEnabled: true,
      pollIntervalMinutes: 5,
    });
    expect(() => resolveStageSettings("test", { POLL_INTERVAL_MINUTES: "0" })).toThrow(
      /POLL_INTERVAL_MINUTES/,
    );
  });

  it("asks every minute for a pushed-granules run and every 5 minutes for a poll named by the firing's time", () => {
    const byId = rules(prod);
    expect(Object.keys(byId).sort()).toEqual(["ContinuousPoll", "PushedGranulesRun"]);
    const starter = {
      "Fn::GetAtt": [functionId(prod.templates.Push, "StartPushedDownloadsFunction"), "Arn"],
    };
    expect(byId.PushedGranulesRun).toMatchObject({
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [expect.objectContaining({ Arn: starter })],
    });
    expect(byId.PushedGranulesRun!.Targets).toHaveLength(1);
    expect((byId.PushedGranulesRun!.Targets as object[])[0]).not.toHaveProperty("InputTransformer");
    expect(byId.ContinuousPoll).toMatchObject({
      ScheduleExpression: "rate(5 minutes)",
      State: "ENABLED",
      Targets: [
        expect.objectContaining({
          Arn: starter,
          InputTransformer: {
            InputPathsMap: { time: "$.time" },
            InputTemplate: '{"kind":"poll","time":<time>}',
          },
        }),
      ],
    });
  });

  it("keeps the daily run as the reconciliation, unchanged", () => {
    const daily = resourcesOfType(prod.templates.Schedule, "AWS::Events::Rule").find(([id]) =>
      id.startsWith("DailyRun"),
    );
    expect(daily?.[1].Properties).toMatchObject({
      ScheduleExpression: "cron(0 12 * * ? *)",
      State: "ENABLED",
      Targets: [expect.objectContaining({ Input: "{}" })],
    });
  });

  it("polls without push: the starter and both rules, no public endpoint, and the age report on", () => {
    const byId = rules(pollOnly);
    expect(Object.keys(byId).sort()).toEqual(["ContinuousPoll", "PushedGranulesRun"]);
    expect(byId.ContinuousPoll).toMatchObject({ ScheduleExpression: "rate(2 minutes)" });
    expect(resourcesOfType(pollOnly.templates.Push, "AWS::Lambda::Url")).toEqual([]);
    expect(resourcesOfType(pollOnly.templates.Push, "AWS::SecretsManager::Secret")).toEqual([]);
    expect(
      resourcesOfType(pollOnly.templates.Push, "AWS::SSM::Parameter").map(([, p]) => p.Properties?.Value),
    ).toEqual([PUSH_ENDPOINT_DISABLED]);
    const age = resourcesOfType(pollOnly.templates.Schedule, "AWS::Events::Rule").find(([id]) =>
      id.startsWith("AgeReport"),
    );
    expect(age?.[1].Properties).toMatchObject({ State: "ENABLED" });
  });
});
