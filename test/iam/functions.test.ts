import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SFNClient } from "@aws-sdk/client-sfn";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import {
  asPrincipal,
  LOCAL_BUCKET_NAME,
  LOCAL_STATE_MACHINE_ARN,
  LOCAL_TABLE_NAME,
  LOCAL_WORK_BUCKET_NAME,
  lambdaEnvironment,
  loadSynthesizedWorkflow,
  recordAwsCalls,
  redriveLocal,
  runLocal,
  startEmbeddedStores,
} from "@hls-s2/local";
import { aPushNotification } from "@hls-s2/testing/push";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CDSE_DEFAULTS } from "../../stacks/settings";
import { WORKFLOW_TASKS, type WorkflowTaskName } from "../../stacks/Workflow";
import { type SynthesizedApp, synthesizeApp } from "../stacks/synthesized";
import {
  type DocumentedRequirement,
  deniedRequests,
  describeUnused,
  findResource,
  functionEnvironment,
  type IamRequest,
  iamRequestsOf,
  type NameMap,
  type RecordedCall,
  type RoleWithPolicies,
  resolveDeployed,
  roleOf,
  SIMULATED_ACCOUNT,
  unusedGrants,
} from "./policy";

/**
 * Every AWS call each function makes in an end-to-end local run (plus the secret reads and the push
 * receiver, which the local run replaces with in-process credentials), evaluated against the roles
 * the stacks synthesize: a call the deployed role would deny fails, and so does a grant nothing uses.
 */

const DAY = "2026-03-14";
const PUSH_CREDENTIALS = { username: "cdse-push", password: "correct horse battery staple" };
type Principal = WorkflowTaskName | "ReceivePush" | "StartPushedDownloads" | "StateMachine";

let app: SynthesizedApp;
const calls: RecordedCall[] = [];
let dataDir: string;
let pushStatus: number | undefined;
let pushedRun: { started: boolean } | undefined;

beforeAll(async () => {
  // CDSE with push: the stage that has every role (a CDSE stage always names its zipper host).
  app = await synthesizeApp({
    stage: "test",
    settings: { hubKind: "cdse", pushEnabled: true, downloadHubUrl: CDSE_DEFAULTS.downloadHubUrl },
  });
  await loadSynthesizedWorkflow();
  dataDir = await mkdtemp(join(tmpdir(), "hls-s2-iam-"));

  // The daily job with faults that reach every path: resumes, retries, MD5 mismatches (abort, then
  // Download recording FAILED), so Abort and the failure writes are recorded too.
  const summary = await runLocal({
    dataDir,
    dynamo: "dynalite",
    from: DAY,
    to: DAY,
    seed: "iam",
    granulesPerDay: 12,
    // Products on both sides of the local part size (5 MiB): one PutObject, or Create, parts and Complete.
    productSize: { min: 3 * 1024 * 1024, max: 8 * 1024 * 1024 },
    concurrency: 4,
    retryDelayMs: 1,
    faults: { rates: { corruptAlways: 0.25, resetAfterBytes: 0.25, http5xx: 0.2 } },
    onAwsCall: (call) => calls.push(call),
  });
  expect(summary.run.downloaded).toBeGreaterThan(0);
  expect(summary.run.failed).toBeGreaterThan(0);
  // A quarter of always-corrupt products is beyond the Map's tolerated failures: the execution FAILED
  // at the Map, as in AWS. Its redrive (the hub recovered) re-runs the failed children with the
  // state machine's RedriveExecution and goes on to Summarize, so those calls are recorded too.
  expect(summary.status).toBe("FAILED");
  const redriven = await redriveLocal({ dataDir, retryDelayMs: 1, onAwsCall: (call) => calls.push(call) });
  expect(redriven.status).toBe("SUCCEEDED");

  await recordConditionFailurePaths();
  await recordSecretReads();
  pushStatus = await recordPush();
  pushedRun = await recordPushedDownloads();
}, 120_000);

afterAll(async () => {
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

/**
 * The paths a clean run never takes but AWS does: a write whose condition fails and the item read
 * that explains why (an overlapping run's Download finds its granule already DOWNLOADED).
 * Without it GetItem would look unused.
 */
async function recordConditionFailurePaths(): Promise<void> {
  const stores = await startEmbeddedStores({ dataDir, dynamo: "dynalite" });
  try {
    recordAwsCalls(stores.dynamo, "dynamodb", (call) => calls.push(call));
    recordAwsCalls(stores.s3, "s3", (call) => calls.push(call));
    const store = new GranuleStore(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
    const [downloaded] = await store.listByStatus(DAY, "DOWNLOADED");
    if (downloaded === undefined) throw new Error("the local run downloaded nothing");
    const runtime = await import("@hls-s2/functions/lib/runtime");
    const workflow = await loadSynthesizedWorkflow();
    runtime.configureRuntime({
      env: lambdaEnvironment(workflow, stores, { kind: "dhus", url: "http://127.0.0.1:9" }),
      clients: { dynamo: createDocumentClient(stores.dynamo), s3: stores.s3 },
      credentials: { hub: PUSH_CREDENTIALS, download: PUSH_CREDENTIALS },
    });
    const owner = `arn:aws:states:${app.region}:${SIMULATED_ACCOUNT}:execution:overlap:${downloaded.granuleId}`;
    const download = await import("@hls-s2/functions/download");
    const outcome = (await asPrincipal("Download", () =>
      download.handler(
        { granuleId: downloaded.granuleId, owner },
        { getRemainingTimeInMillis: () => 600_000 },
      ),
    )) as { outcome: string };
    expect(outcome.outcome).toBe("already-downloaded");

    // Summarize's sweep: an upload recorded on a granule that then FAILED is aborted from the table alone.
    const abandoned = {
      granuleId: randomUUID(),
      name: downloaded.name,
      tileId: downloaded.tileId,
      platform: downloaded.platform,
      sensingStart: downloaded.sensingStart,
      sensingEnd: downloaded.sensingEnd,
      publishedAt: downloaded.publishedAt,
      sizeBytes: downloaded.sizeBytes,
    };
    await store.recordDiscovered(abandoned, DAY);
    await store.claimGranule(abandoned.granuleId, "crashed-worker");
    const key = `${abandoned.name}.zip`;
    const created = await stores.s3.send(
      new CreateMultipartUploadCommand({ Bucket: stores.bucketName, Key: key }),
    );
    await store.saveUploadProgress(abandoned.granuleId, "crashed-worker", {
      uploadId: created.UploadId!,
      key,
      parts: [],
      bytes: 0,
      // Never resumed (the sweeper only aborts it), so it needs no hash state.
      hashState: "",
      createdAt: Date.now(),
    });
    // Terminal, so nobody will continue its upload: the sweeper aborts it at once (a granule that may
    // still be retried keeps its upload for the Download's Retry ladders).
    await store.markFailed(
      abandoned.granuleId,
      { name: "GranuleGoneError", message: "410" },
      { owner: "crashed-worker" },
    );
    const summarize = await import("@hls-s2/functions/summarize");
    const summary = (await asPrincipal("Summarize", () => summarize.handler({ from: DAY, to: DAY }))) as {
      sweptUploads: { aborted: number };
    };
    expect(summary.sweptUploads.aborted).toBe(1);

    // An upload whose Create was never recorded (its attempt died in between): the same child's next
    // claim lists the key's uploads and aborts it before asking the hub anything.
    const lastDigit = downloaded.name.endsWith("9") ? "8" : "9";
    const orphaned = {
      ...abandoned,
      granuleId: randomUUID(),
      name: `${downloaded.name.slice(0, -1)}${lastDigit}`,
    };
    await store.recordDiscovered(orphaned, DAY);
    const child = `arn:aws:states:${app.region}:${SIMULATED_ACCOUNT}:execution:orphan:${orphaned.granuleId}`;
    await store.claimGranule(orphaned.granuleId, child);
    const orphanKey = `${orphaned.name}.zip`;
    await store.markUploadCreating(orphaned.granuleId, child, orphanKey);
    const orphan = await stores.s3.send(
      new CreateMultipartUploadCommand({ Bucket: stores.bucketName, Key: orphanKey }),
    );
    // The hub is unreachable and the deadline a second away: the attempt fails after the abort.
    await asPrincipal("Download", () =>
      download.handler(
        { granuleId: orphaned.granuleId, owner: child },
        { getRemainingTimeInMillis: () => 61_000 },
      ),
    ).catch(() => undefined);
    const open = await stores.s3.send(
      new ListMultipartUploadsCommand({ Bucket: stores.bucketName, Prefix: orphanKey }),
    );
    expect((open.Uploads ?? []).map((upload) => upload.UploadId)).not.toContain(orphan.UploadId);

    // WriteManifest's recount: a day whose counter says one more than its index holds (an ADD an
    // older release applied twice) is listed anyway and its counter set from the index.
    await createDocumentClient(stores.dynamo).send(
      new UpdateCommand({
        TableName: stores.tableName,
        Key: { pk: `fetch#${DAY}#${downloaded.platform}` },
        UpdateExpression: "ADD #recorded :one",
        ExpressionAttributeNames: { "#recorded": "recorded" },
        ExpressionAttributeValues: { ":one": 1 },
      }),
    );
    const writeManifest = await import("@hls-s2/functions/write-manifest");
    const manifest = (await asPrincipal("WriteManifest", () =>
      writeManifest.handler({ from: DAY, to: DAY, executionName: "iam-recount" }),
    )) as { recounted?: unknown[] };
    expect(manifest.recounted).toHaveLength(1);
    runtime.resetRuntime();
  } finally {
    await stores.close();
  }
}

/** A Secrets Manager client that records each call and answers GetSecretValue itself: nothing leaves the process. */
function recordedSecrets(): SecretsManagerClient {
  const client = new SecretsManagerClient({
    region: app.region,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  recordAwsCalls(client, "secretsmanager", (call) => calls.push(call));
  client.middlewareStack.add(
    () => async () => ({
      output: { SecretString: JSON.stringify({ username: "u", password: "p" }), $metadata: {} },
      response: {},
    }),
    { step: "initialize", name: "answerSecret", priority: "low" },
  );
  return client;
}

/** Each cold start that reads a secret, with the function's deployed environment (the secret ARNs it has). */
async function recordSecretReads(): Promise<void> {
  const runtime = await import("@hls-s2/functions/lib/runtime");
  for (const task of ["FetchPage", "Download"] as const) {
    runtime.configureRuntime({
      env: functionEnvironment(app, `${task}Function`),
      clients: { secrets: recordedSecrets() },
    });
    await asPrincipal(task, () => runtime.getHub());
  }
  runtime.configureRuntime({
    env: functionEnvironment(app, "ReceivePushFunction"),
    clients: { secrets: recordedSecrets() },
  });
  await asPrincipal("ReceivePush", () => runtime.getPushCredentials());
  runtime.resetRuntime();
}

/** One accepted CDSE push through the receiver, its table writes recorded. */
async function recordPush(): Promise<number> {
  const stores = await startEmbeddedStores({ dynamo: "dynalite" });
  try {
    recordAwsCalls(stores.dynamo, "dynamodb", (call) => calls.push(call));
    const runtime = await import("@hls-s2/functions/lib/runtime");
    const env = functionEnvironment(app, "ReceivePushFunction");
    runtime.configureRuntime({
      env: { ...env, TABLE_NAME: stores.tableName },
      clients: { dynamo: createDocumentClient(stores.dynamo) },
      credentials: { push: PUSH_CREDENTIALS },
    });
    const { handler } = await import("@hls-s2/functions/receive-push");
    const response = await asPrincipal("ReceivePush", () => handler(pushEvent()));
    runtime.resetRuntime();
    return response.statusCode ?? 0;
  } finally {
    await stores.close();
  }
}

function pushEvent(): APIGatewayProxyEventV2 {
  const body = aPushNotification();
  const authorization = `Basic ${Buffer.from(`${PUSH_CREDENTIALS.username}:${PUSH_CREDENTIALS.password}`).toString("base64")}`;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/events",
    rawQueryString: "",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      http: { method: "POST", path: "/events", protocol: "HTTP/1.1", sourceIp: "127.0.0.1" },
    },
  } as unknown as APIGatewayProxyEventV2;
}

/**
 * StartPushedDownloads as the 5-minute rule invokes it, after a push: its Query of the status index,
 * its ListExecutions and StartExecution (answered in-process, nothing leaves it) are recorded.
 */
async function recordPushedDownloads(): Promise<{ started: boolean }> {
  const stores = await startEmbeddedStores({ dynamo: "dynalite" });
  try {
    const store = new GranuleStore(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
    const now = new Date();
    const day = now.toISOString().slice(0, 10);
    const compact = `${day.replace(/-/g, "")}T121212`;
    await store.recordDiscovered(
      {
        granuleId: randomUUID(),
        name: `S2A_MSIL1C_${compact}_N0511_R108_T32TQM_${compact}.SAFE`,
        tileId: "32TQM",
        platform: "S2A",
        sensingStart: `${day}T00:00:00.000Z`,
        sensingEnd: `${day}T00:00:00.000Z`,
        publishedAt: now.toISOString(),
        sizeBytes: 1024,
      },
      day,
    );
    recordAwsCalls(stores.dynamo, "dynamodb", (call) => calls.push(call));
    const sfn = new SFNClient({
      region: app.region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    recordAwsCalls(sfn, "states", (call) => calls.push(call));
    sfn.middlewareStack.add(
      (_next, context) => async () => ({
        output:
          context.commandName === "StartExecutionCommand"
            ? {
                executionArn: "arn:aws:states:::execution:granules:pushed",
                startDate: new Date(),
                $metadata: {},
              }
            : { executions: [], $metadata: {} },
        response: {},
      }),
      { step: "initialize", name: "answerStates", priority: "low" },
    );
    const runtime = await import("@hls-s2/functions/lib/runtime");
    const env = functionEnvironment(app, "StartPushedDownloadsFunction");
    runtime.configureRuntime({
      env: { ...env, TABLE_NAME: stores.tableName },
      clients: { dynamo: createDocumentClient(stores.dynamo), sfn },
    });
    const { handler } = await import("@hls-s2/functions/start-pushed-downloads");
    const result = await asPrincipal("StartPushedDownloads", () => handler({ time: now.toISOString() }));
    runtime.resetRuntime();
    return result;
  } finally {
    await stores.close();
  }
}

/** The local run's table and bucket names → the deployed ones the functions get in their environment. */
function deployedNames(): NameMap {
  const env = functionEnvironment(app, "DownloadFunction");
  const machine = findResource(app, "AWS::StepFunctions::StateMachine", "");
  const machineArn = String(resolveDeployed({ Ref: machine.logicalId }, machine.template, app));
  const names: NameMap = {
    [LOCAL_TABLE_NAME]: env["TABLE_NAME"]!,
    [LOCAL_BUCKET_NAME]: env["BUCKET_NAME"]!,
    [LOCAL_WORK_BUCKET_NAME]: env["WORK_BUCKET_NAME"]!,
    // The local Map Run starts children of the placeholder state machine the local run names.
    [LOCAL_STATE_MACHINE_ARN]: machineArn,
    // Its children's ARNs: execution:<machine name>/<Map Run label>:<child> (map-run.ts).
    [LOCAL_STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")]: machineArn.replace(
      ":stateMachine:",
      ":execution:",
    ),
  };
  // The local definition's Lambda Tasks name each function by a placeholder ARN of its logical id
  // (packages/local/src/aws/definition.ts flattenDefinitionString): the deployed function has that id.
  for (const task of Object.keys(WORKFLOW_TASKS)) {
    const fn = findResource(app, "AWS::Lambda::Function", `${task}Function`);
    names[`arn:aws:lambda:us-east-1:123456789012:function:${fn.logicalId}`] =
      `arn:aws:lambda:${app.region}:${SIMULATED_ACCOUNT}:function:${fn.logicalId}`;
  }
  return names;
}

function recordedRequests(principal: Principal): IamRequest[] {
  const names = deployedNames();
  return calls.filter((c) => c.principal === principal).flatMap((c) => iamRequestsOf(c, names, app.region));
}

function roleOfPrincipal(principal: Principal): RoleWithPolicies {
  if (principal === "StateMachine") return roleOf(app, { stateMachine: true });
  return roleOf(app, { function: `${principal}Function` });
}

/**
 * "AWSLambdaBasicExecutionRole – Permission to upload logs to CloudWatch" (Lambda Developer Guide,
 * execution role); the default role "has permissions to create a CloudWatch log group in the current
 * Region and AWS account, and create log streams and put events to those streams" (Lambda Operator
 * Guide, least privilege). The Lambda service does this with the function's role, not our code.
 */
function lambdaLogging(principal: Principal): DocumentedRequirement[] {
  const { logicalId, template } = findResource(app, "AWS::Lambda::Function", `${principal}Function`);
  const logging = template.Resources![logicalId]!.Properties?.["LoggingConfig"] as { LogGroup?: unknown };
  const group =
    logging?.LogGroup === undefined
      ? `/aws/lambda/${logicalId}`
      : String(resolveDeployed(logging.LogGroup, template, app));
  const arn = `arn:aws:logs:${app.region}:${SIMULATED_ACCOUNT}:log-group:${group}`;
  const quote = "AWSLambdaBasicExecutionRole – Permission to upload logs to CloudWatch";
  return [
    { action: "logs:CreateLogGroup", resource: arn },
    { action: "logs:CreateLogStream", resource: `${arn}:log-stream:2026/03/14/[$LATEST]0` },
    { action: "logs:PutLogEvents", resource: `${arn}:log-stream:2026/03/14/[$LATEST]0` },
  ].map((r) => ({ ...r, principal, source: "Lambda service: function logs", quote }));
}

/**
 * What Step Functions itself does with the state machine role, which no local engine call shows
 * (the local runner records only the ItemReader's GetObject); each from the Step Functions
 * Developer Guide.
 */
function stateMachineRequirements(): DocumentedRequirement[] {
  const { logicalId, template } = findResource(app, "AWS::StepFunctions::StateMachine", "");
  const arn = String(resolveDeployed({ Ref: logicalId }, template, app));
  const name = arn.split(":").at(-1)!;
  const execution = `arn:aws:states:${app.region}:${SIMULATED_ACCOUNT}:execution:${name}`;
  const workBucket = deployedNames()[LOCAL_WORK_BUCKET_NAME]!;
  const principal = "StateMachine";
  const distributedMap =
    '"IAM policies for using Distributed Map states": "Step Functions needs appropriate permissions to allow the state machine role to invoke the StartExecution API action for the Distributed Map state" — states:StartExecution on the state machine, states:DescribeExecution and states:StopExecution on its executions';
  const requirements: DocumentedRequirement[] = [
    { action: "states:StartExecution", resource: arn, quote: distributedMap },
    { action: "states:DescribeExecution", resource: `${execution}:child`, quote: distributedMap },
    { action: "states:StopExecution", resource: `${execution}:child`, quote: distributedMap },
    {
      action: "states:RedriveExecution",
      resource: `${execution}/DownloadGranules:child`,
      quote:
        '"Redriving Map Runs": "A redriven parent workflow redrives all the unsuccessful states, including Distributed Map" — the Map Run\'s child executions (execution:<machine>/<map run>:<child>) are redriven with the state machine role',
    },
    ...["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"].map(
      (action) => ({
        action,
        resource: `arn:aws:s3:::${workBucket}/results/map-run/SUCCEEDED_0.json`,
        quote:
          '"ResultWriter (Map)": "Step Functions needs appropriate permissions to access the bucket and folder where you want to export the results" (IAM policies for ResultWriter: s3:PutObject, s3:GetObject, s3:ListMultipartUploadParts, s3:AbortMultipartUpload)',
      }),
    ),
    ...[
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ].map((action) => ({
      action,
      resource: "*",
      quote:
        '"IAM policies for logging to CloudWatch Logs": these log delivery actions on Resource "*", since they support no resource-level permissions',
    })),
  ].map((r) => ({ ...r, principal, source: "Step Functions service" }));
  // Every Lambda Task: "lambda:InvokeFunction" on the function ("IAM policies for calling AWS Lambda").
  for (const task of Object.keys(WORKFLOW_TASKS)) {
    const fn = findResource(app, "AWS::Lambda::Function", `${task}Function`);
    requirements.push({
      principal,
      action: "lambda:InvokeFunction",
      resource: `arn:aws:lambda:${app.region}:${SIMULATED_ACCOUNT}:function:${fn.logicalId}`,
      source: `Task ${task}`,
      quote: '"IAM policies for calling AWS Lambda": lambda:InvokeFunction on the function the Task invokes',
    });
  }
  return requirements;
}

const FUNCTION_PRINCIPALS: Principal[] = [
  ...(Object.keys(WORKFLOW_TASKS) as WorkflowTaskName[]),
  "ReceivePush",
  "StartPushedDownloads",
];

describe("the EventBridge role of the daily rule", () => {
  /**
   * "To relay events to targets, EventBridge needs an IAM role"; "EventBridge targets typically
   * require IAM roles that grant permission to EventBridge to invoke the target" (EventBridge User
   * Guide, IAM roles for sending events to targets): for a state machine, states:StartExecution on it.
   */
  it("may start the state machine and nothing else", async () => {
    const role = roleOf(app, { role: "StateMachineEventsRole" });
    const machine = findResource(app, "AWS::StepFunctions::StateMachine", "");
    const start: IamRequest = {
      principal: "EventBridge",
      action: "states:StartExecution",
      resource: String(resolveDeployed({ Ref: machine.logicalId }, machine.template, app)),
      source: "EventBridge rule target",
    };
    expect(await deniedRequests(role, [start])).toEqual([]);
    expect(describeUnused(role, await unusedGrants(role, [start])).join("\n")).toBe("");
  });
});

describe("IAM proven offline: every call the deployed roles see", () => {
  it("records the calls of every function and of the state machine's ItemReader", () => {
    const seen = new Set(calls.map((c) => `${c.principal} ${c.service}:${c.command}`));
    // The paths the daily job cannot work without; a recorder that stopped recording fails here.
    for (const expected of [
      "FetchPage dynamodb:PutItem",
      "FetchPage secretsmanager:GetSecretValue",
      "WriteManifest dynamodb:Query",
      "WriteManifest s3:PutObject",
      "Download dynamodb:UpdateItem",
      "Download s3:PutObject",
      "Download s3:CreateMultipartUpload",
      "Download s3:UploadPart",
      "Download s3:CompleteMultipartUpload",
      "Download s3:AbortMultipartUpload",
      "Download s3:ListMultipartUploads",
      "Download dynamodb:GetItem",
      "Summarize dynamodb:Query",
      "ReceivePush dynamodb:PutItem",
      "ReceivePush secretsmanager:GetSecretValue",
      "StartPushedDownloads dynamodb:Query",
      "StartPushedDownloads states:ListExecutions",
      "StartPushedDownloads states:StartExecution",
      "StateMachine s3:GetObject",
    ]) {
      expect(seen, expected).toContain(expected);
    }
    expect(pushStatus).toBe(204);
    expect(pushedRun).toMatchObject({ started: true });
  });

  it.each([...FUNCTION_PRINCIPALS, "StateMachine" as const])(
    "allows every call %s makes, with the role the stacks synthesize",
    async (principal) => {
      const role = roleOfPrincipal(principal);
      const requests = [
        ...recordedRequests(principal),
        ...(principal === "StateMachine" ? stateMachineRequirements() : lambdaLogging(principal)),
      ];
      const denied = await deniedRequests(role, requests);
      expect(
        denied
          .map((d) => `${d.decision}: ${d.request.action} on ${d.request.resource} (${d.request.source})`)
          .join("\n"),
      ).toBe("");
    },
  );

  it.each([...FUNCTION_PRINCIPALS, "StateMachine" as const])(
    "grants %s no action that no call and no documented AWS requirement uses",
    async (principal) => {
      const role = roleOfPrincipal(principal);
      const used = [
        ...recordedRequests(principal),
        ...(principal === "StateMachine" ? stateMachineRequirements() : lambdaLogging(principal)),
      ];
      // One line per grant, joined, so the failure names every unused action in full.
      expect(describeUnused(role, await unusedGrants(role, used)).join("\n")).toBe("");
    },
  );
});
