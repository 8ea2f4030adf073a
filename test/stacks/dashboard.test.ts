import {
  METRIC_DIMENSIONS,
  METRIC_NAMES,
  METRICS,
  METRICS_NAMESPACE,
  METRICS_SERVICE,
} from "@hls-s2/core/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { WORKFLOW_TASKS } from "../../stacks/Workflow";
import { resourcesOfType } from "./helpers";
import { flattenIntrinsics, type SynthesizedApp, synthesizeApp } from "./synthesized";

/** A metric row of a graph widget: namespace, name, dimension name/value pairs, then rendering options. */
type MetricRow = (string | Record<string, unknown>)[];
interface Widget {
  type: string;
  properties: {
    title?: string;
    metrics?: MetricRow[];
    alarms?: string[];
    annotations?: { horizontal?: { value: number; label?: string }[] };
  };
}

let test: SynthesizedApp;
let widgets: Widget[];

beforeAll(async () => {
  test = await synthesizeApp({ stage: "test" });
  widgets = dashboardWidgets(test);
});

function dashboardWidgets(app: SynthesizedApp): Widget[] {
  const template = app.templates.Alarms!;
  const dashboards = resourcesOfType(template, "AWS::CloudWatch::Dashboard");
  expect(dashboards).toHaveLength(1);
  const others = Object.values(app.templates).filter((other) => other !== undefined);
  const body = flattenIntrinsics(dashboards[0]![1].Properties?.DashboardBody, template, app.region, others);
  return (JSON.parse(String(body)) as { widgets: Widget[] }).widgets;
}

function metricRows(): { namespace: string; name: string; dimensions: Record<string, string> }[] {
  return widgets.flatMap((widget) =>
    (widget.properties.metrics ?? [])
      .filter((row) => typeof row[0] === "string")
      .map((row) => {
        const [namespace, name, ...rest] = row.filter((cell): cell is string => typeof cell === "string");
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < rest.length; i += 2) dimensions[rest[i]!] = rest[i + 1]!;
        return { namespace: namespace!, name: name!, dimensions };
      }),
  );
}

function searchExpressions(): string[] {
  return widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).flatMap((row) =>
      row.flatMap((cell) =>
        typeof cell === "object" &&
        typeof cell["expression"] === "string" &&
        cell["expression"].startsWith("SEARCH")
          ? [cell["expression"]]
          : [],
      ),
    ),
  );
}

describe("the stage's dashboard", () => {
  it("graphs only metrics the code emits, with exactly the dimensions the functions put on them", () => {
    const ours = metricRows().filter((row) => row.namespace === METRICS_NAMESPACE);
    expect(ours.length).toBeGreaterThan(0);
    for (const row of ours) {
      expect(METRIC_NAMES).toContain(row.name);
      expect(row.dimensions).toEqual({
        [METRIC_DIMENSIONS.service]: METRICS_SERVICE,
        [METRIC_DIMENSIONS.stage]: "test",
        [METRIC_DIMENSIONS.hubKind]: test.settings.hubKind,
      });
    }
  });

  it("searches the metrics counted by error name by that dimension, this stage only", () => {
    const searches = searchExpressions();
    expect(searches.length).toBeGreaterThan(0);
    for (const expression of searches) {
      const name = /MetricName="([^"]+)"/.exec(expression)?.[1];
      expect(METRIC_NAMES).toContain(name);
      expect("byErrorName" in METRICS[name as keyof typeof METRICS]).toBe(true);
      expect(expression).toContain(`{${METRICS_NAMESPACE},${METRIC_DIMENSIONS.errorName},`);
      expect(expression).toContain(`${METRIC_DIMENSIONS.stage}="test"`);
    }
  });

  it("shows every metric the code emits", () => {
    const shown = new Set([
      ...metricRows()
        .filter((row) => row.namespace === METRICS_NAMESPACE)
        .map((row) => row.name),
      ...searchExpressions().map((expression) => /MetricName="([^"]+)"/.exec(expression)?.[1]),
    ]);
    expect([...shown].sort()).toEqual([...METRIC_NAMES].sort());
  });

  it("graphs each function's duration, errors and throttles, the Map Runs and the executions", () => {
    const rows = metricRows();
    for (const metricName of ["Duration", "Errors", "Throttles"]) {
      const functions = rows
        .filter((row) => row.namespace === "AWS/Lambda" && row.name === metricName)
        .map((row) => row.dimensions["FunctionName"]);
      expect(functions, metricName).toHaveLength(Object.keys(WORKFLOW_TASKS).length);
      for (const task of Object.keys(WORKFLOW_TASKS)) {
        expect(functions.some((fn) => fn?.includes(`${task}Function`))).toBe(true);
      }
    }
    const states = rows.filter((row) => row.namespace === "AWS/States").map((row) => row.name);
    expect(states).toEqual(
      expect.arrayContaining(["ApproximateOpenMapRunCount", "ExecutionsFailed", "ExecutionsStarted"]),
    );
  });

  it("graphs the hub slots in use (max and average) against the quota, and the waits for a slot", () => {
    const quota = widgets.find((widget) => widget.properties.title === "Hub slots in use vs the quota");
    const stats = (quota?.properties.metrics ?? []).map((row) => {
      const name = row.find((cell, i) => i === 1 && typeof cell === "string");
      const options = row.find((cell) => typeof cell === "object") as { stat?: string } | undefined;
      // aws-cdk leaves the stat out when it is Average, the metric widget's default.
      return `${String(name)} ${options?.stat ?? "Average"}`;
    });
    expect(stats).toEqual(["HubSlotsInUse Maximum", "HubSlotsInUse Average", "HubSlotQuota Maximum"]);
    // The deploy default as a line, so a quota lowered at runtime shows against it.
    expect(quota?.properties.annotations?.horizontal).toEqual([
      expect.objectContaining({ value: test.settings.hubDownloadSlots }),
    ]);
    const waits = widgets.find((widget) => widget.properties.title?.startsWith("Waits for a hub slot"));
    expect(JSON.stringify(waits?.properties.metrics)).toContain('"HubSlotWaits"');
    expect(JSON.stringify(waits?.properties.metrics)).toContain('"stat":"Sum"');
  });

  it("shows every alarm of the stage", () => {
    const alarmIds = resourcesOfType(test.templates.Alarms, "AWS::CloudWatch::Alarm").map(([id]) => id);
    const shown = widgets.flatMap((widget) => widget.properties.alarms ?? []);
    expect(shown).toHaveLength(alarmIds.length);
    for (const id of alarmIds)
      expect(shown.some((arn) => arn.toLowerCase().includes(id.toLowerCase()))).toBe(true);
  });
});

describe("the latency alarm", () => {
  const latencyAlarm = (app: SynthesizedApp) =>
    resourcesOfType(app.templates.Alarms, "AWS::CloudWatch::Alarm")
      .map(([, alarm]) => alarm.Properties ?? {})
      .find((alarm) => alarm.MetricName === "GranuleLatency");

  it("fires when a day's p95 publication → bucket latency exceeds 36 hours by default", () => {
    expect(latencyAlarm(test)).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      ExtendedStatistic: "p95",
      Period: 86_400,
      Threshold: 36 * 3600,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "notBreaching",
      Dimensions: expect.arrayContaining([
        { Name: METRIC_DIMENSIONS.stage, Value: "test" },
        { Name: METRIC_DIMENSIONS.service, Value: METRICS_SERVICE },
        { Name: METRIC_DIMENSIONS.hubKind, Value: test.settings.hubKind },
      ]),
    });
  });

  it("follows the stage's latencyAlarmHours", async () => {
    const faster = await synthesizeApp({ stage: "test", settings: { latencyAlarmHours: 12 } });
    expect(latencyAlarm(faster)?.["Threshold"]).toBe(12 * 3600);
  });
});
