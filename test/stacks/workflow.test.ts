import { createRequire } from "node:module";
import { parseConfig } from "@hls-s2/core/config";
import {
  MISMATCH_ERROR_NAMES,
  MISMATCH_MAX_ATTEMPTS,
  RETRYABLE_ERROR_NAMES,
  SESSIONS_EXHAUSTED_ERROR_NAMES,
  SESSIONS_EXHAUSTED_RETRY,
  SLOT_WAIT_ERROR_NAMES,
  SLOT_WAIT_RETRY,
} from "@hls-s2/core/errors";
import { beforeAll, describe, expect, it } from "vitest";
import { WORKFLOW_TASKS } from "../../stacks/Workflow";
import { findState, iamStatements, resourcesOfType } from "./helpers";
import { flattenIntrinsics, type SynthesizedApp, synthesizeApp } from "./synthesized";

type AslValidator = (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText(separator?: string): string };
// asl-validator is CommonJS without typings.
const validateAsl = createRequire(import.meta.url)("asl-validator") as AslValidator;

/**
 * Resource "*" is allowed only for actions that have no resource-level permissions: Step Functions
 * needs these CloudWatch Logs delivery actions to write execution logs to a log group.
 */
const STAR_RESOURCE_ACTIONS = new Set([
  "logs:CreateLogDelivery",
  "logs:GetLogDelivery",
  "logs:UpdateLogDelivery",
  "logs:DeleteLogDelivery",
  "logs:ListLogDeliveries",
  "logs:PutResourcePolicy",
  "logs:DescribeResourcePolicies",
  "logs:DescribeLogGroups",
]);

let synthesized: SynthesizedApp;

beforeAll(async () => {
  synthesized = await synthesizeApp({ stage: "test" });
});

describe("the download map", () => {
  it("runs each granule as a STANDARD child execution of a DISTRIBUTED map, 15 at a time", () => {
    const map = findState(synthesized.stateMachineDefinition(), "DownloadGranules");
    expect(map.Type).toBe("Map");
    expect(map.MaxConcurrency).toBe(15);
    expect(map.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
    });
  });

  it("reads its items from the manifest JSON in the work bucket", () => {
    const map = findState(synthesized.stateMachineDefinition(), "DownloadGranules");
    expect(map.ItemReader).toMatchObject({
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSON" },
      Parameters: { "Key.$": "$.manifest.key" },
    });
    expect(map.ItemSelector).toEqual({
      "granuleId.$": "$$.Map.Item.Value.granuleId",
      "name.$": "$$.Map.Item.Value.name",
    });
  });

  it("tolerates 10 % failed granules and writes its results under results/ without keeping them in state", () => {
    const map = findState(synthesized.stateMachineDefinition(), "DownloadGranules");
    expect(map.ToleratedFailurePercentage).toBe(10);
    expect(map.ResultWriter).toMatchObject({
      Resource: "arn:aws:states:::s3:putObject",
      Parameters: { Prefix: "results/" },
    });
    expect(map.ResultPath).toBeNull();
  });

  it("retries a download on exactly core's retryable error names, with backoff and full jitter", () => {
    const download = findState(synthesized.stateMachineDefinition(), "Download");
    const retriers = download.Retry as Record<string, unknown>[];
    const retryable = retriers.find((retrier) =>
      (retrier.ErrorEquals as string[]).includes(RETRYABLE_ERROR_NAMES[0]),
    );
    expect(retryable).toEqual({
      ErrorEquals: [...RETRYABLE_ERROR_NAMES],
      IntervalSeconds: 5,
      BackoffRate: 2,
      MaxAttempts: 6,
      MaxDelaySeconds: 300,
      JitterStrategy: "FULL",
    });
  });

  it("waits for a hub slot in the state machine, long enough that a waiting granule is not FAILED", () => {
    const download = findState(synthesized.stateMachineDefinition(), "Download");
    const retriers = download.Retry as Record<string, unknown>[];
    expect(retriers).toContainEqual({
      ErrorEquals: [...SLOT_WAIT_ERROR_NAMES],
      IntervalSeconds: SLOT_WAIT_RETRY.intervalSeconds,
      BackoffRate: SLOT_WAIT_RETRY.backoffRate,
      MaxDelaySeconds: SLOT_WAIT_RETRY.maxDelaySeconds,
      MaxAttempts: SLOT_WAIT_RETRY.maxAttempts,
      JitterStrategy: "FULL",
    });
    // Three history events per Lambda retry must stay under the 25,000 events of one execution.
    expect(SLOT_WAIT_RETRY.maxAttempts * 3).toBeLessThan(25_000);
    expect(retriers).toContainEqual(
      expect.objectContaining({
        ErrorEquals: [...SESSIONS_EXHAUSTED_ERROR_NAMES],
        MaxAttempts: SESSIONS_EXHAUSTED_RETRY.maxAttempts,
        JitterStrategy: "FULL",
      }),
    );
  });

  it("gives only the download the hub's slot quota, 15 by default", () => {
    const template = synthesized.templates.Workflow!;
    for (const [logicalId, properties] of resourcesOfType(template, "AWS::Lambda::Function")) {
      const variables = (properties.Properties?.["Environment"] as { Variables?: Record<string, unknown> })
        ?.Variables;
      if (logicalId.startsWith("DownloadFunction")) expect(variables?.["HUB_DOWNLOAD_SLOTS"]).toBe("15");
      else expect(variables?.["HUB_DOWNLOAD_SLOTS"]).toBeUndefined();
    }
  });

  it("retries a checksum mismatch only MISMATCH_MAX_ATTEMPTS times", () => {
    const download = findState(synthesized.stateMachineDefinition(), "Download");
    const retriers = download.Retry as Record<string, unknown>[];
    expect(retriers).toContainEqual({
      ErrorEquals: [...MISMATCH_ERROR_NAMES],
      IntervalSeconds: 1,
      MaxAttempts: MISMATCH_MAX_ATTEMPTS,
    });
  });

  it("ends a failed child at Download itself: no Catch, and no Fail state a redriven child would re-enter", () => {
    const definition = synthesized.stateMachineDefinition();
    const download = findState(definition, "Download");
    expect(download.Catch).toBeUndefined();
    expect(download.End).toBe(true);
    const processor = findState(definition, "DownloadGranules").ItemProcessor as {
      StartAt: string;
      States: Record<string, { Type: string }>;
    };
    expect(processor.StartAt).toBe("Download");
    expect(Object.keys(processor.States)).toEqual(["Download"]);
    expect(JSON.stringify(definition)).not.toContain('"Type":"Fail"');
  });

  it("passes the granule id and the child execution id as the lease owner to the download", () => {
    const download = findState(synthesized.stateMachineDefinition(), "Download");
    expect(download.Parameters).toEqual({ "granuleId.$": "$.granuleId", "owner.$": "$$.Execution.Id" });
  });
});

describe("the daily flow", () => {
  it("follows the contract's states in order", () => {
    const definition = synthesized.stateMachineDefinition();
    expect(definition.StartAt).toBe("GenerateQueries");
    expect(findState(definition, "GenerateQueries")).toMatchObject({
      ResultPath: "$.plan",
      Next: "ShouldFetchLinks",
    });
    expect(findState(definition, "ShouldFetchLinks")).toMatchObject({
      Choices: [{ Variable: "$.plan.fetchLinks", BooleanEquals: true, Next: "FetchLinks" }],
      Default: "ShouldDownload",
    });
    expect(findState(definition, "ShouldDownload")).toMatchObject({
      Choices: [{ Variable: "$.plan.downloadsEnabled", BooleanEquals: true, Next: "WriteManifest" }],
      Default: "Summarize",
    });
    expect(findState(definition, "WriteManifest")).toMatchObject({
      ResultPath: "$.manifest",
      Next: "HasWork",
      Parameters: { "from.$": "$.plan.from", "to.$": "$.plan.to", "executionName.$": "$$.Execution.Name" },
    });
    expect(findState(definition, "HasWork")).toMatchObject({
      Choices: [{ Variable: "$.manifest.count", NumericGreaterThan: 0, Next: "DownloadGranules" }],
      Default: "Summarize",
    });
    expect(findState(definition, "DownloadGranules").Next).toBe("Summarize");
    expect(findState(definition, "Summarize")).toMatchObject({
      End: true,
      Parameters: { "from.$": "$.plan.from", "to.$": "$.plan.to", "countWindow.$": "$.plan.countWindow" },
    });
  });

  it("pages each query in an inline map of 3 that loops FetchPage until it reports finished", () => {
    const definition = synthesized.stateMachineDefinition();
    const fetchLinks = findState(definition, "FetchLinks");
    expect(fetchLinks).toMatchObject({ ItemsPath: "$.plan.queries", MaxConcurrency: 3, ResultPath: null });
    expect(fetchLinks.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: "INLINE" },
      StartAt: "FetchPage",
    });
    const fetchPage = findState(definition, "FetchPage");
    // No Parameters and no ResultPath: the handler gets its previous output and replaces the state.
    expect(fetchPage.Parameters).toBeUndefined();
    expect(fetchPage.ResultPath).toBeUndefined();
    expect(fetchPage.Retry).toContainEqual(
      expect.objectContaining({ ErrorEquals: [...RETRYABLE_ERROR_NAMES] }),
    );
    expect(findState(definition, "PageLoop")).toMatchObject({
      Choices: [{ Variable: "$.finished", BooleanEquals: true, Next: "QueryDone" }],
      Default: "FetchPage",
    });
  });

  it("invokes every Lambda task directly so its output is the handler's return value", () => {
    const definition = synthesized.stateMachineDefinition();
    for (const task of Object.keys(WORKFLOW_TASKS)) {
      expect(findState(definition, task).Resource).toMatch(/^arn:aws:lambda:[^:]+:\d{12}:function:/);
    }
  });

  it("passes asl-validator once intrinsics are flattened", () => {
    const result = validateAsl(synthesized.stateMachineDefinition());
    expect(result.errorsText("\n")).toBe("");
    expect(result.isValid).toBe(true);
  });

  it("is a STANDARD state machine logging errors without execution data", () => {
    const [, machine] =
      resourcesOfType(synthesized.templates.Workflow, "AWS::StepFunctions::StateMachine")[0] ?? [];
    expect(machine?.Properties).toMatchObject({
      StateMachineType: "STANDARD",
      LoggingConfiguration: { Level: "ERROR", IncludeExecutionData: false },
    });
  });
});

describe("the functions", () => {
  const functionsByHandler = () =>
    new Map(
      resourcesOfType(synthesized.templates.Workflow, "AWS::Lambda::Function")
        .map(([logicalId, resource]) => [logicalId, resource.Properties ?? {}] as const)
        .filter(([logicalId]) => !logicalId.startsWith("CustomResourceHandler")),
    );

  it("gives every function an environment that core's parseConfig accepts, with credentials only as secret ids", () => {
    const template = synthesized.templates.Workflow!;
    const functions = functionsByHandler();
    expect(functions.size).toBe(Object.keys(WORKFLOW_TASKS).length);
    for (const properties of functions.values()) {
      const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const others = Object.values(synthesized.templates).filter((other) => other !== undefined);
      const env = flattenIntrinsics(variables, template, synthesized.region, others) as Record<
        string,
        string
      >;
      const config = parseConfig(env);
      expect(config.hubUrl).toMatch(/^https:\/\//);
      expect(env.HUB_SECRET_ID).toBeTruthy();
      expect(Object.keys(env).filter((key) => /PASSWORD|USERNAME|CREDENTIAL/i.test(key))).toEqual([]);
    }
  });

  it("gives the download 900 s and 512 MB and keeps every other function within 900 s", () => {
    const template = synthesized.templates.Workflow!;
    const [, download] = resourcesOfType(template, "AWS::Lambda::Function").find(([logicalId]) =>
      logicalId.startsWith("DownloadFunction"),
    )!;
    expect(download.Properties).toMatchObject({ Timeout: 900, MemorySize: 512, Runtime: "nodejs22.x" });
    for (const properties of functionsByHandler().values()) {
      expect(properties.Timeout).toBeLessThanOrEqual(900);
    }
  });
});

describe("permissions", () => {
  it("grants Resource * only for the CloudWatch Logs delivery actions Step Functions logging needs", () => {
    const offenders = Object.values(synthesized.templates).flatMap((template) =>
      iamStatements(template!)
        .filter(({ statement }) => [statement.Resource].flat().includes("*"))
        .flatMap(({ logicalId, statement }) =>
          [statement.Action]
            .flat()
            .filter((action) => !STAR_RESOURCE_ACTIONS.has(action))
            .map((a) => `${logicalId}: ${a}`),
        ),
    );
    expect(offenders).toEqual([]);
  });

  it("lets the state machine start its own child executions and read the manifest", () => {
    const statements = iamStatements(synthesized.templates.Workflow!).map(({ statement }) => statement);
    const [machineId] =
      resourcesOfType(synthesized.templates.Workflow, "AWS::StepFunctions::StateMachine")[0] ?? [];
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: "states:StartExecution", Resource: { Ref: machineId } }),
    );
    expect(statements).toContainEqual(expect.objectContaining({ Action: "s3:GetObject" }));
  });
});

describe("a stage without the schedule", () => {
  it("keeps its Schedule stack with the daily rule and the age report's DISABLED, and no other rule", () => {
    expect(synthesized.settings.scheduleEnabled).toBe(false);
    const rules = Object.values(synthesized.templates).flatMap((template) =>
      resourcesOfType(template, "AWS::Events::Rule"),
    );
    expect(rules.map(([, rule]) => rule.Properties?.State)).toEqual(["DISABLED", "DISABLED"]);
    expect(resourcesOfType(synthesized.templates.Schedule, "AWS::Events::Rule")).toHaveLength(2);
  });
});

describe("alarms", () => {
  it("alarms on a failed execution, on failed granules, on slow granules and on a day without downloads only when scheduled", () => {
    const alarms = resourcesOfType(synthesized.templates.Alarms, "AWS::CloudWatch::Alarm").map(
      ([, alarm]) => alarm.Properties ?? {},
    );
    // The test stage has no schedule, so the no-download alarm would only ever cry wolf there.
    expect(alarms.map((alarm) => alarm.MetricName).sort()).toEqual([
      "ExecutionsFailed",
      "GranuleLatency",
      "GranulesFailed",
      "QueriesFailed",
      "UnfinishedGranulesOld",
    ]);
    expect(alarms.find((alarm) => alarm.MetricName === "GranulesFailed")).toMatchObject({
      Namespace: "HlsS2Downloader",
      Threshold: 50,
      ComparisonOperator: "GreaterThanThreshold",
    });
    for (const alarm of alarms) expect(alarm.AlarmActions).toHaveLength(1);
  });

  it("alarms on the first search that failed for good, on the stage's SNS topic", () => {
    const [topicId] = resourcesOfType(synthesized.templates.Alarms, "AWS::SNS::Topic")[0] ?? [];
    expect(topicId).toBeDefined();
    const alarm = resourcesOfType(synthesized.templates.Alarms, "AWS::CloudWatch::Alarm")
      .map(([, resource]) => resource.Properties ?? {})
      .find((properties) => properties.MetricName === "QueriesFailed");
    expect(alarm).toMatchObject({
      Namespace: "HlsS2Downloader",
      Statistic: "Maximum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topicId }],
    });
  });
});
