import {
  BACKOFF_RETRY,
  FINAL_ERROR_NAMES,
  MISMATCH_ERROR_NAMES,
  MISMATCH_MAX_ATTEMPTS,
  MISMATCH_RETRY_INTERVAL_SECONDS,
  QUERY_FAILURE_ERROR_NAMES,
  RETRYABLE_ERROR_NAMES,
  SESSIONS_EXHAUSTED_ERROR_NAMES,
  SESSIONS_EXHAUSTED_RETRY,
  SLOT_WAIT_ERROR_NAMES,
  SLOT_WAIT_RETRY,
  UNHANDLED_ERROR_NAMES,
  UNHANDLED_RETRY,
} from "@hls-s2/core/errors";
import { Duration } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import type { Construct } from "constructs";
import type { StageSettings } from "./settings";
import type { WorkflowTaskName } from "./Workflow";

export interface WorkflowDefinitionProps {
  functions: Record<WorkflowTaskName, lambda.IFunction>;
  workBucket: s3.IBucket;
  settings: Pick<StageSettings, "downloadConcurrency" | "toleratedFailurePercentage">;
}

/**
 * The state machine's definition (the data-flow contract shared by the handlers, this stack and
 * the local runner), built from typed constructs so the local runner executes the same ASL.
 */
export function buildWorkflowDefinition(
  scope: Construct,
  { functions, workBucket, settings }: WorkflowDefinitionProps,
): sfn.IChainable {
  // Without a payload the task passes its whole input; the output is the handler's return value.
  const invoke = (
    name: WorkflowTaskName,
    props: Partial<tasks.LambdaInvokeProps> = {},
    stateName: string = name,
  ) =>
    new tasks.LambdaInvoke(scope, stateName, {
      lambdaFunction: functions[name],
      payloadResponseOnly: true,
      ...props,
    }).addRetry({
      // Lambda's own throttling when the account's concurrency is shared with other workloads.
      errors: ["Lambda.TooManyRequestsException"],
      interval: Duration.seconds(10),
      backoffRate: 2,
      maxAttempts: 6,
      jitterStrategy: sfn.JitterType.FULL,
    });
  const retryable = {
    errors: [...RETRYABLE_ERROR_NAMES],
    interval: Duration.seconds(BACKOFF_RETRY.intervalSeconds),
    backoffRate: BACKOFF_RETRY.backoffRate,
    maxAttempts: BACKOFF_RETRY.maxAttempts,
    maxDelay: Duration.seconds(BACKOFF_RETRY.maxDelaySeconds),
    jitterStrategy: sfn.JitterType.FULL,
  };

  // Last on an idempotent task, after its own retriers: a Lambda killed at its timeout or out of memory
  // (Lambda.Unknown) or ended by a plain library error (States.TaskFailed) runs again a few times. The
  // wildcard would also match our final names, so a retrier that stops them (MaxAttempts 0) comes first:
  // Step Functions uses the first retrier whose ErrorEquals matches.
  const retryUnhandled = (task: sfn.TaskStateBase) =>
    task.addRetry({ errors: [...FINAL_ERROR_NAMES], maxAttempts: 0 }).addRetry({
      errors: [...UNHANDLED_ERROR_NAMES],
      interval: Duration.seconds(UNHANDLED_RETRY.intervalSeconds),
      backoffRate: UNHANDLED_RETRY.backoffRate,
      maxAttempts: UNHANDLED_RETRY.maxAttempts,
      maxDelay: Duration.seconds(UNHANDLED_RETRY.maxDelaySeconds),
      jitterStrategy: sfn.JitterType.FULL,
    });

  const generateQueries = invoke("GenerateQueries", { resultPath: "$.plan" });

  // One iteration per (day, platform): the handler pages until its time budget ends, then the
  // loop calls it again with its own output until the query is exhausted.
  const fetchPage = retryUnhandled(invoke("FetchPage").addRetry(retryable));
  // A query that fails for good (a terminal error, or any error after its retries) ends its own
  // iteration only: the same function records the failure on the query's cursor item, where Summarize,
  // its alarm and `ops status` read it, and the other queries, the manifest and the downloads go on.
  const recordQueryFailure = retryUnhandled(
    invoke(
      "FetchPage",
      {
        payload: sfn.TaskInput.fromObject({
          day: sfn.JsonPath.stringAt("$.day"),
          platform: sfn.JsonPath.stringAt("$.platform"),
          // The Catch's error output, {Error, Cause}, whole: a Cause may be absent.
          failure: sfn.JsonPath.objectAt("$.failure"),
          executionName: sfn.JsonPath.stringAt("$$.Execution.Name"),
        }),
      },
      "RecordQueryFailure",
    ).addRetry(retryable),
  );
  // Not States.ALL: credentials refused or a bad setting (RUN_STOPPING_ERROR_NAMES) fail the run here, at
  // the step a Redrive re-runs, before any download meets the same refusal.
  fetchPage.addCatch(recordQueryFailure, { errors: [...QUERY_FAILURE_ERROR_NAMES], resultPath: "$.failure" });
  const pageLoop = new sfn.Choice(scope, "PageLoop")
    .when(sfn.Condition.booleanEquals("$.finished", true), new sfn.Succeed(scope, "QueryDone"))
    .otherwise(fetchPage);
  const fetchLinks = new sfn.Map(scope, "FetchLinks", {
    itemsPath: "$.plan.queries",
    // The hub's search API is shared with other users; three queries at once stays polite.
    maxConcurrency: 3,
    resultPath: sfn.JsonPath.DISCARD,
  }).itemProcessor(fetchPage.next(pageLoop));

  const writeManifest = invoke("WriteManifest", {
    payload: sfn.TaskInput.fromObject({
      from: sfn.JsonPath.stringAt("$.plan.from"),
      to: sfn.JsonPath.stringAt("$.plan.to"),
      executionName: sfn.JsonPath.stringAt("$$.Execution.Name"),
      // null but in a pushed-granules run, which lists only what was recorded since the run before it.
      recordedSince: sfn.JsonPath.stringAt("$.plan.recordedSince"),
    }),
    resultPath: "$.manifest",
  });

  const download = invoke("Download", {
    payload: sfn.TaskInput.fromObject({
      granuleId: sfn.JsonPath.stringAt("$.granuleId"),
      owner: sfn.JsonPath.stringAt("$$.Execution.Id"),
    }),
  })
    .addRetry(retryable)
    // Waiting for a hub slot: "MaxAttempts … has a maximum value of 99999999" and "JitterStrategy FULL"
    // randomizes each wait between 0 and the backoff (Step Functions' retrier fields); core bounds the
    // attempts by the execution history (see SLOT_WAIT_RETRY), so a waiting granule is not FAILED.
    .addRetry({
      errors: [...SLOT_WAIT_ERROR_NAMES],
      interval: Duration.seconds(SLOT_WAIT_RETRY.intervalSeconds),
      backoffRate: SLOT_WAIT_RETRY.backoffRate,
      maxDelay: Duration.seconds(SLOT_WAIT_RETRY.maxDelaySeconds),
      maxAttempts: SLOT_WAIT_RETRY.maxAttempts,
      jitterStrategy: sfn.JitterType.FULL,
    })
    // Too many sessions at the identity service: they expire by themselves within minutes.
    .addRetry({
      errors: [...SESSIONS_EXHAUSTED_ERROR_NAMES],
      interval: Duration.seconds(SESSIONS_EXHAUSTED_RETRY.intervalSeconds),
      backoffRate: SESSIONS_EXHAUSTED_RETRY.backoffRate,
      maxDelay: Duration.seconds(SESSIONS_EXHAUSTED_RETRY.maxDelaySeconds),
      maxAttempts: SESSIONS_EXHAUSTED_RETRY.maxAttempts,
      jitterStrategy: sfn.JitterType.FULL,
    })
    // A flipped byte heals on a second download; a product that never matches its MD5 does not.
    .addRetry({
      errors: [...MISMATCH_ERROR_NAMES],
      maxAttempts: MISMATCH_MAX_ATTEMPTS,
      interval: Duration.seconds(MISMATCH_RETRY_INTERVAL_SECONDS),
    });
  retryUnhandled(download);
  // No Catch: the handler records FAILED (error name and message) itself before it throws, so the child
  // execution ends unsuccessfully at Download. AWS redrives "from the unsuccessful step" (RedriveExecution:
  // "it continues the failed execution from the unsuccessful step and uses the same input"), so a
  // redriven child downloads again; a Catch into a Fail state would make it re-enter the Fail and fail.

  const downloadGranules = new sfn.DistributedMap(scope, "DownloadGranules", {
    itemReader: new sfn.S3JsonItemReader({
      bucket: workBucket,
      key: sfn.JsonPath.stringAt("$.manifest.key"),
    }),
    itemSelector: {
      granuleId: sfn.JsonPath.stringAt("$$.Map.Item.Value.granuleId"),
      name: sfn.JsonPath.stringAt("$$.Map.Item.Value.name"),
    },
    // The hub's concurrent-download quota, not Lambda, is the real limit.
    maxConcurrency: settings.downloadConcurrency,
    // STANDARD children: each granule is its own execution, inspectable and redrivable.
    mapExecutionType: sfn.StateMachineType.STANDARD,
    // One bad granule never fails the day; a hub outage beyond this stops the Map for a Redrive.
    toleratedFailurePercentage: settings.toleratedFailurePercentage,
    // Rendered only with the context flag that addStacks sets (V1 is deprecated).
    resultWriterV2: new sfn.ResultWriterV2({ bucket: workBucket, prefix: "results/" }),
    resultPath: sfn.JsonPath.DISCARD,
  }).itemProcessor(download);

  const summarize = invoke("Summarize", {
    payload: sfn.TaskInput.fromObject({
      from: sfn.JsonPath.stringAt("$.plan.from"),
      to: sfn.JsonPath.stringAt("$.plan.to"),
      // A boolean: false for a pushed-granules run, which counts its window's FAILED granules only.
      countWindow: sfn.JsonPath.stringAt("$.plan.countWindow"),
    }),
  });

  const hasWork = new sfn.Choice(scope, "HasWork")
    .when(sfn.Condition.numberGreaterThan("$.manifest.count", 0), downloadGranules.next(summarize))
    .otherwise(summarize);
  const shouldDownload = new sfn.Choice(scope, "ShouldDownload")
    .when(sfn.Condition.booleanEquals("$.plan.downloadsEnabled", true), writeManifest.next(hasWork))
    .otherwise(summarize);
  const shouldFetchLinks = new sfn.Choice(scope, "ShouldFetchLinks")
    .when(sfn.Condition.booleanEquals("$.plan.fetchLinks", true), fetchLinks.next(shouldDownload))
    .otherwise(shouldDownload);

  return generateQueries.next(shouldFetchLinks);
}
