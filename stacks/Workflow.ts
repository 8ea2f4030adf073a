import {
  PUBLISHED_PARAMETERS,
  STAGE_PARAMETERS,
  type StageParameterKey,
  stageParameterPath,
} from "@hls-s2/core/config";
import { DELIVERY_MANIFEST_PREFIX, manifestKeyFor } from "@hls-s2/core/usecases";
import { Aws, Fn, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as ssm from "aws-cdk-lib/aws-ssm";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { type Function as SstFunction, type StackContext, use } from "sst/constructs";
import { buildWorkflowDefinition } from "./definition";
import type { EnvironmentValues } from "./environment";
import { suppressWorkflowFindings } from "./findings";
import { sizedFunction } from "./functions";
import { MockHub } from "./MockHub";
import { Storage, useUploadBucket } from "./Storage";
import { useStageSettings } from "./settings";
import { FUNCTION_SIZES } from "./sizes";

/** Each Lambda task of the state machine and the handler file (packages/functions/src/<file>.ts) it runs. */
export const WORKFLOW_TASKS = {
  GenerateQueries: "generate-queries",
  FetchPage: "fetch-page",
  WriteManifest: "write-manifest",
  Download: "download",
  Summarize: "summarize",
} as const;

export type WorkflowTaskName = keyof typeof WORKFLOW_TASKS;

/** What the fetch handler gets to page one query: seconds of its 900 s timeout, minus a slow page. */
const FETCH_TIME_BUDGET_SECONDS = FUNCTION_SIZES.FetchPage.timeoutSeconds - 120;

/**
 * The DynamoDB actions each function's code sends (GranuleStore: PutItem in recordDiscovered, GetItem
 * in getGranule/getFetchProgress, UpdateItem in every transition and recordFetchProgress, Query in the
 * sharded (day, status) listings and counts) and nothing else: no Scan, BatchWriteItem, DeleteItem.
 */
export const TABLE_ACTIONS = {
  GenerateQueries: [],
  FetchPage: ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
  // Query lists the day's shards; GetItem reads the (day, platform) counters it reconciles against,
  // UpdateItem sets a day's counters from the index when they said more (GranuleStore.recountDay).
  WriteManifest: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"],
  // The hub slots (core/src/adapters/store/slots.ts): GetItem reads the count, UpdateItem takes and frees a slot, and
  // BatchGetItem reads the slots in use for the dashboard's gauge (SlotPool.inUse).
  Download: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
  // Query lists the window and GetItem its counters (the tally); UpdateItem marks and forgets
  // abandoned uploads (core/src/usecases/sweep-uploads.ts).
  Summarize: ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"],
} as const satisfies Record<WorkflowTaskName, readonly string[]>;

/**
 * What the Download role may do on the upload bucket. S3's multipart permissions: "You must be allowed
 * to perform the s3:PutObject action on an object to initiate multipart upload", and the same
 * s3:PutObject for Upload Part and Complete Multipart Upload; "You must be allowed to perform the
 * s3:AbortMultipartUpload action to abort a multipart upload". No read or head: HLS's bucket policy
 * grants none, and the code (core/src/adapters/transfer/) sends none.
 */
export const UPLOAD_BUCKET_ACTIONS = ["s3:PutObject", "s3:AbortMultipartUpload"] as const;
/** On the bucket itself: ListMultipartUploads, sent only to find an upload an attempt never recorded. */
export const UPLOAD_BUCKET_LIST_ACTIONS = ["s3:ListBucketMultipartUploads"] as const;

/**
 * SSE-KMS multipart uploads: "you must have permission to the kms:Decrypt and kms:GenerateDataKey
 * actions on the key" (GenerateDataKey at CreateMultipartUpload, Decrypt for the parts).
 */
export const UPLOAD_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"] as const;

/** The five Lambda functions and the daily state machine that drives them. */
export function Workflow({ stack, app }: StackContext) {
  const settings = useStageSettings(app);
  const storage = use(Storage);
  const hubUrl = settings.hubUrl ?? use(MockHub).hubUrl;
  const removalPolicy = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  const uploadBucket = useUploadBucket(stack, settings);
  // The stage's own upload bucket (none imported by UPLOAD_BUCKET_NAME): its uploads may be listed.
  const uploadBucketListable = settings.uploadBucketName === undefined;

  // What the stack computes for every workflow function (core's FUNCTION_CONFIG says which keys each
  // gets, the rest are deploy settings); credentials only as secret ids, never values.
  const computed = {
    STAGE: app.stage,
    TABLE_NAME: storage.table.tableName,
    BUCKET_NAME: uploadBucket.bucketName,
    WORK_BUCKET_NAME: storage.workBucket.bucketName,
    HUB_URL: hubUrl,
    HUB_SECRET_ID: storage.hubSecret.secretArn,
  };

  const lambdaFunction = <const Name extends WorkflowTaskName>(
    name: Name,
    values: EnvironmentValues<Name> = {},
  ) =>
    sizedFunction(stack, settings, name, { file: WORKFLOW_TASKS[name], values: { ...computed, ...values } });

  const functions: Record<WorkflowTaskName, SstFunction> = {
    GenerateQueries: lambdaFunction("GenerateQueries"),
    FetchPage: lambdaFunction("FetchPage", { FETCH_TIME_BUDGET_SECONDS }),
    WriteManifest: lambdaFunction("WriteManifest"),
    // Memory is part size × queue plus the runtime, whatever the product size; the handler stops
    // 60 s before its timeout so an interrupted transfer checkpoints and is retried.
    Download: lambdaFunction("Download", {
      DOWNLOAD_HUB_SECRET_ID: storage.downloadHubSecret?.secretArn,
      BUCKET_REGION: settings.uploadBucketRegion,
      UPLOAD_BUCKET_LISTABLE: uploadBucketListable ? "true" : undefined,
    }),
    // The sweep aborts in the upload bucket: in another region (HLS's bucket) it must be named.
    Summarize: lambdaFunction("Summarize", { BUCKET_REGION: settings.uploadBucketRegion }),
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
  // Summarize's one work-bucket call: PutObject of the closed days' delivery/<day>.jsonl.
  iam.Grant.addToPrincipal({
    grantee: functions.Summarize,
    actions: ["s3:PutObject"],
    resourceArns: [storage.workBucket.arnForObjects(`${DELIVERY_MANIFEST_PREFIX}*`)],
  });
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
  // The one list, on a bucket the stage created only: a claim that finds an upload Create never recorded
  // (an attempt died in between) lists the uploads open on that key to abort it
  // (core/src/adapters/transfer/unrecorded-uploads.ts). HLS's bucket policy grants no list: there the
  // bucket's lifecycle rule removes such an upload, and UploadsUnrecorded counts them.
  if (uploadBucketListable) {
    iam.Grant.addToPrincipal({
      grantee: functions.Download,
      actions: [...UPLOAD_BUCKET_LIST_ACTIONS],
      resourceArns: [uploadBucket.bucketArn],
    });
  }
  if (settings.uploadBucketKmsKeyArn !== undefined) {
    // An imported key has no policy here: this adds to the role's policy; HLS's key policy must allow it too.
    kms.Key.fromKeyArn(stack, "UploadBucketKey", settings.uploadBucketKmsKeyArn).grant(
      functions.Download,
      ...UPLOAD_KEY_ACTIONS,
    );
  }
  // Summarize sweeps abandoned multipart uploads (core/src/usecases/sweep-uploads.ts): from the table alone, and it may
  // only abort them, under the same prefix as the Download role's objects.
  iam.Grant.addToPrincipal({
    grantee: functions.Summarize,
    actions: ["s3:AbortMultipartUpload"],
    resourceArns: [uploadBucket.arnForObjects(`${settings.objectPrefix}*`)],
  });
  const downloadRole = functions.Download.role;
  if (downloadRole === undefined) throw new TypeError("Workflow: the Download function has no role");
  const sweeperRole = functions.Summarize.role;
  if (sweeperRole === undefined) throw new TypeError("Workflow: the Summarize function has no role");

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
    // The second principal of that policy, for s3:AbortMultipartUpload only: Summarize's sweep.
    SweeperRoleArn: sweeperRole.roleArn,
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
  new ssm.StringParameter(stack, "Parameter-sweeperRoleArn", {
    parameterName: `${stageParameterPath(app.stage)}${PUBLISHED_PARAMETERS.sweeperRoleArn}`,
    stringValue: sweeperRole.roleArn,
    description: "The role that aborts abandoned uploads: the bucket policy's abort-only principal",
  });
  return { stateMachine, functions, downloadRole };
}
