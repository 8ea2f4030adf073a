import {
  METRICS_NAMESPACE,
  METRICS_SERVICE,
  MISMATCH_ERROR_NAMES,
  MISMATCH_MAX_ATTEMPTS,
  manifestKeyFor,
  PUBLISHED_PARAMETERS,
  RETRYABLE_ERROR_NAMES,
  SESSIONS_EXHAUSTED_ERROR_NAMES,
  SESSIONS_EXHAUSTED_RETRY,
  SLOT_WAIT_ERROR_NAMES,
  SLOT_WAIT_RETRY,
  STAGE_PARAMETERS,
  type StageParameterKey,
  stageParameterPath,
} from "@hls-s2/core";
import { Aws, Duration, Fn, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as ssm from "aws-cdk-lib/aws-ssm";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { NagSuppressions } from "cdk-nag";
import { type FunctionProps, Function as SstFunction, type StackContext, use } from "sst/constructs";
import { MockHub } from "./MockHub";
import { Storage, useUploadBucket } from "./Storage";
import { type StageSettings, useStageSettings } from "./settings";

/** Each Lambda task of the state machine and the handler file (packages/functions/src/<file>.ts) it runs. */
export const WORKFLOW_TASKS = {
  GenerateQueries: "generate-queries",
  FetchPage: "fetch-page",
  WriteManifest: "write-manifest",
  Download: "download",
  Summarize: "summarize",
} as const;

export type WorkflowTaskName = keyof typeof WORKFLOW_TASKS;

/** CloudWatch namespace and Powertools service of the metrics (core/src/domain/metrics.ts) the alarms watch. */
export { METRICS_NAMESPACE, METRICS_SERVICE } from "@hls-s2/core";

/** The tile allow-list's name inside the fetch function's bundle (relative to its task root). */
export const BUNDLED_TILE_ALLOW_LIST = "tile-allow-list.txt";

/** What the fetch handler gets to page one query: seconds of its 900 s timeout, minus a slow page. */
const FETCH_TIMEOUT_SECONDS = 900;
const FETCH_TIME_BUDGET_SECONDS = FETCH_TIMEOUT_SECONDS - 120;

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
  scope: import("constructs").Construct,
  { functions, workBucket, settings }: WorkflowDefinitionProps,
): sfn.IChainable {
  // Without a payload the task passes its whole input; the output is the handler's return value.
  const invoke = (name: WorkflowTaskName, props: Partial<tasks.LambdaInvokeProps> = {}) =>
    new tasks.LambdaInvoke(scope, name, {
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
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.seconds(300),
    jitterStrategy: sfn.JitterType.FULL,
  };

  const generateQueries = invoke("GenerateQueries", { resultPath: "$.plan" });

  // One iteration per (day, platform): the handler pages until its time budget ends, then the
  // loop calls it again with its own output until the query is exhausted.
  const fetchPage = invoke("FetchPage").addRetry(retryable);
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
      interval: Duration.seconds(1),
    });
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

/**
 * The DynamoDB actions each function's code sends (GranuleStore: PutItem in recordDiscovered, GetItem
 * in getGranule/getFetchProgress, UpdateItem in every transition and recordFetchProgress, Query in the
 * sharded (day, status) listings and counts) and nothing else: no Scan, BatchWriteItem, DeleteItem.
 */
export const TABLE_ACTIONS = {
  GenerateQueries: [],
  FetchPage: ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
  // Query lists the day's shards; GetItem reads the (day, platform) counters it reconciles against.
  WriteManifest: ["dynamodb:Query", "dynamodb:GetItem"],
  // The hub slots (core/slots.ts): GetItem reads the count, UpdateItem takes and frees a slot, and
  // BatchGetItem reads the slots in use for the dashboard's gauge (SlotPool.inUse).
  Download: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
  // Query lists the window and GetItem its counters (the tally); UpdateItem marks and forgets
  // abandoned uploads (core/sweeper.ts).
  Summarize: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"],
} as const satisfies Record<WorkflowTaskName, readonly string[]>;

/**
 * What the Download role may do on the upload bucket. S3's multipart permissions: "You must be allowed
 * to perform the s3:PutObject action on an object to initiate multipart upload", and the same
 * s3:PutObject for Upload Part and Complete Multipart Upload; "You must be allowed to perform the
 * s3:AbortMultipartUpload action to abort a multipart upload". No read, head or list: HLS's bucket
 * policy grants none, and the code (core/transfer.ts) sends none.
 */
export const UPLOAD_BUCKET_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload"] as const;

/**
 * SSE-KMS multipart uploads: "you must have permission to the kms:Decrypt and kms:GenerateDataKey
 * actions on the key" (GenerateDataKey at CreateMultipartUpload, Decrypt for the parts).
 */
export const UPLOAD_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;

/** The six Lambda functions and the daily state machine that drives them. */
export function Workflow({ stack, app }: StackContext) {
  const settings = useStageSettings(app);
  const storage = use(Storage);
  const hubUrl = settings.hubUrl ?? use(MockHub).hubUrl;
  const removalPolicy = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  const uploadBucket = useUploadBucket(stack, settings);

  // Exactly the keys of core's parseConfig; credentials only as secret ids, never values.
  const environment: Record<string, string> = {
    STAGE: app.stage,
    TABLE_NAME: storage.table.tableName,
    BUCKET_NAME: uploadBucket.bucketName,
    WORK_BUCKET_NAME: storage.workBucket.bucketName,
    OBJECT_PREFIX: settings.objectPrefix,
    HUB_KIND: settings.hubKind,
    HUB_URL: hubUrl,
    HUB_SECRET_ID: storage.hubSecret.secretArn,
    ...(settings.downloadHubUrl !== undefined && { DOWNLOAD_HUB_URL: settings.downloadHubUrl }),
    ...(storage.downloadHubSecret && { DOWNLOAD_HUB_SECRET_ID: storage.downloadHubSecret.secretArn }),
    ...(settings.cdseTokenUrl !== undefined && { CDSE_TOKEN_URL: settings.cdseTokenUrl }),
    PLATFORMS: settings.platforms.join(","),
    LOOKBACK_DAYS: String(settings.lookbackDays),
    DOWNLOADS_ENABLED: String(settings.downloadsEnabled),
    FETCH_TIME_BUDGET_SECONDS: String(FETCH_TIME_BUDGET_SECONDS),
    POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    NODE_OPTIONS: "--enable-source-maps",
  };

  const lambdaFunction = (name: WorkflowTaskName, props: Partial<FunctionProps> = {}) =>
    new SstFunction(stack, `${name}Function`, {
      handler: `packages/functions/src/${WORKFLOW_TASKS[name]}.handler`,
      runtime: "nodejs22.x",
      architecture: "arm_64",
      memorySize: "512 MB",
      timeout: "120 seconds",
      // X-Ray off: its PutTraceSegments needs Resource "*", and the console's map run view suffices.
      tracing: "disabled",
      // An explicit log group instead of logRetention, whose custom resource needs Resource "*".
      logGroup: new logs.LogGroup(stack, `${name}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy,
      }),
      ...props,
      environment: { ...environment, ...props.environment },
    });

  const functions: Record<WorkflowTaskName, SstFunction> = {
    GenerateQueries: lambdaFunction("GenerateQueries", { timeout: "60 seconds" }),
    FetchPage: lambdaFunction("FetchPage", {
      timeout: `${FETCH_TIMEOUT_SECONDS} seconds`,
      ...(settings.tileAllowListFile !== undefined && {
        copyFiles: [{ from: settings.tileAllowListFile, to: BUNDLED_TILE_ALLOW_LIST }],
        environment: { TILE_ALLOW_LIST_FILE: BUNDLED_TILE_ALLOW_LIST },
      }),
    }),
    WriteManifest: lambdaFunction("WriteManifest", { timeout: "300 seconds", memorySize: "1024 MB" }),
    // Memory is part size × queue plus the runtime, whatever the product size; the handler stops
    // 60 s before this timeout so an interrupted transfer checkpoints and is retried.
    Download: lambdaFunction("Download", {
      timeout: "900 seconds",
      memorySize: "1024 MB",
      environment: {
        // Only the download takes hub slots and talks to the upload bucket (hence its region).
        HUB_DOWNLOAD_SLOTS: String(settings.hubDownloadSlots),
        ...(settings.uploadBucketRegion !== undefined && { BUCKET_REGION: settings.uploadBucketRegion }),
      },
    }),
    Summarize: lambdaFunction("Summarize", { timeout: "300 seconds" }),
  };

  for (const [name, actions] of Object.entries(TABLE_ACTIONS) as [WorkflowTaskName, readonly string[]][]) {
    // Table.grant covers the table and, when it has any, its indexes (`table/index/*`) for Query.
    if (actions.length > 0) storage.table.grant(functions[name], ...actions);
  }
  const readSecret = (fn: SstFunction, secret: { secretArn: string }) =>
    // GetSecretValue is the only Secrets Manager call (functions/lib/runtime.ts readSecret).
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ["secretsmanager:GetSecretValue"],
      resourceArns: [secret.secretArn],
    });
  readSecret(functions.FetchPage, storage.hubSecret);
  readSecret(functions.Download, storage.hubSecret);
  if (storage.downloadHubSecret) readSecret(functions.Download, storage.downloadHubSecret);
  // WriteManifest's one S3 call: PutObject of manifests/<execution>.json.
  iam.Grant.addToPrincipal({
    grantee: functions.WriteManifest,
    actions: ["s3:PutObject"],
    resourceArns: [storage.workBucket.arnForObjects(manifestKeyFor("*"))],
  });
  // Objects under OBJECT_PREFIX only (HLS's policy grants `bucket/prefix*`); arnForObjects builds the ARN.
  iam.Grant.addToPrincipal({
    grantee: functions.Download,
    actions: [...UPLOAD_BUCKET_ACTIONS],
    resourceArns: [uploadBucket.arnForObjects(`${settings.objectPrefix}*`)],
  });
  if (settings.uploadBucketKmsKeyArn !== undefined) {
    // An imported key has no policy here: this adds to the role's policy; HLS's key policy must allow it too.
    kms.Key.fromKeyArn(stack, "UploadBucketKey", settings.uploadBucketKmsKeyArn).grant(
      functions.Download,
      ...UPLOAD_KEY_ACTIONS,
    );
  }
  // Summarize sweeps abandoned multipart uploads (core/sweeper.ts): from the table alone, and it may
  // only abort them, under the same prefix as the Download role's objects.
  iam.Grant.addToPrincipal({
    grantee: functions.Summarize,
    actions: ["s3:AbortMultipartUpload"],
    resourceArns: [uploadBucket.arnForObjects(`${settings.objectPrefix}*`)],
  });
  const downloadRole = functions.Download.role;
  if (downloadRole === undefined) throw new TypeError("Workflow: the Download function has no role");

  const logGroup = new logs.LogGroup(stack, "StateMachineLogs", {
    // Step Functions: "To avoid reaching the CloudWatch Logs resource policy size limit, prefix your
    // CloudWatch Logs log group names with /aws/vendedlogs/". The suffix is the first block of this
    // stack's id, which is stable across deploys but new after `sst remove`, so a log group retained
    // on prod never collides with the one a later deploy creates ("already exists").
    logGroupName: Fn.join("", [
      `/aws/vendedlogs/states/${app.logicalPrefixedName("granules")}-`,
      Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID)))),
    ]),
    retention: logs.RetentionDays.THREE_MONTHS,
    removalPolicy,
  });
  const stateMachine = new sfn.StateMachine(stack, "StateMachine", {
    stateMachineName: app.logicalPrefixedName("granules"),
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromChainable(
      buildWorkflowDefinition(stack, { functions, workBucket: storage.workBucket, settings }),
    ),
    logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    comment: "HLS Sentinel-2 downloader: one execution per day or backfill, one child execution per granule",
  });

  suppressWorkflowFindings(stateMachine, functions, settings.objectPrefix);

  stack.addOutputs({
    StateMachineArn: stateMachine.stateMachineArn,
    StateMachineName: stateMachine.stateMachineName,
    // The principal HLS's bucket policy (and key policy) names.
    DownloadRoleArn: downloadRole.roleArn,
  });
  // What the operator CLI resolves `--stage NAME` from (core/src/config/parameters.ts names them).
  const published: Record<StageParameterKey, string> = {
    stateMachineArn: stateMachine.stateMachineArn,
    tableName: storage.table.tableName,
    uploadBucketName: uploadBucket.bucketName,
    workBucketName: storage.workBucket.bucketName,
    lookbackDays: String(settings.lookbackDays),
  };
  for (const [key, value] of Object.entries(published) as [StageParameterKey, string][]) {
    new ssm.StringParameter(stack, `Parameter-${key}`, {
      parameterName: `${stageParameterPath(app.stage)}${STAGE_PARAMETERS[key]}`,
      stringValue: value,
    });
  }
  new ssm.StringParameter(stack, "Parameter-downloadRoleArn", {
    parameterName: `${stageParameterPath(app.stage)}${PUBLISHED_PARAMETERS.downloadRoleArn}`,
    stringValue: downloadRole.roleArn,
    description: "The role that uploads granules: the principal of the upload bucket's policy",
  });
  return { stateMachine, functions, downloadRole };
}

/** A cdk-nag `appliesTo` matching an IAM5 finding exactly, logical-id hashes left open. */
function finding(pattern: string): { regex: string } {
  return { regex: `/^Resource::${pattern}$/` };
}

/** The cdk-nag findings of the Workflow stack that stay, each with the reason it stays. */
function suppressWorkflowFindings(
  stateMachine: sfn.StateMachine,
  functions: Record<WorkflowTaskName, SstFunction>,
  objectPrefix: string,
): void {
  const indexWildcard = {
    id: "AwsSolutions-IAM5",
    reason:
      "Table.grant adds the table's index ARNs (table/index/*) next to the table's: Query reads the byDayStatus index, the table's only one",
    appliesTo: [finding("<Granules[0-9A-F]+\\.Arn>\\/index\\/\\*")],
  };
  NagSuppressions.addResourceSuppressions(Object.values(functions), [indexWildcard], true);
  NagSuppressions.addResourceSuppressions(
    functions.Download,
    [
      {
        id: "AwsSolutions-IAM5",
        reason: `Objects under the upload prefix ("${objectPrefix}*"): one key per granule, named after products not known at deploy time; only PutObject and AbortMultipartUpload`,
        appliesTo: [finding("arn:<AWS::Partition>:s3:::<[A-Za-z0-9]+>\\/.*\\*")],
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    functions.Summarize,
    [
      {
        id: "AwsSolutions-IAM5",
        reason: `The sweeper aborts the uploads the table records under the upload prefix ("${objectPrefix}*"), whose keys are granules' names: only AbortMultipartUpload`,
        appliesTo: [finding("arn:<AWS::Partition>:s3:::<[A-Za-z0-9]+>\\/.*\\*")],
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    functions.WriteManifest,
    [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "One manifest per execution, manifests/<execution name>.json: only PutObject, only that prefix",
        appliesTo: [finding("<WorkBucket[0-9A-F]+\\.Arn>\\/manifests\\/\\*\\.json")],
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    stateMachine,
    [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "What CDK grants the state machine: its Lambda tasks' versions (function:*), the Distributed Map's ItemReader/ResultWriter objects in the work bucket, its own child executions (Describe/Stop/Redrive), and the CloudWatch Logs delivery actions, which have no resource-level permissions (Resource *)",
        appliesTo: [
          finding("<[A-Za-z]+Function[0-9A-F]+\\.Arn>:\\*"),
          finding("arn:<AWS::Partition>:s3:::<WorkBucket[0-9A-F]+>\\/\\*"),
          finding("arn:<AWS::Partition>:states:.*:execution:.*"),
          "Resource::*",
        ],
      },
      {
        id: "AwsSolutions-SF1",
        reason:
          "Level ERROR on purpose: ALL would log every state of ~13,000 child executions a day; each execution's full history stays in Step Functions (90 days) and is what an operator reads",
      },
      {
        id: "AwsSolutions-SF2",
        reason:
          'X-Ray off: its PutTraceSegments needs Resource "*", and the Map Run view of the console already shows each granule\'s child execution',
      },
    ],
    true,
  );
}
