import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  ExecutionAlreadyExists,
  type ExecutionStatus,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { TABLE_SCHEMA } from "@hls-s2/core/domain";
import { planWindow, writeManifest } from "@hls-s2/core/usecases";
import { aPushNotification } from "@hls-s2/testing/push";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { configureRuntime } from "../src/lib/runtime";
import { handler as receivePush } from "../src/receive-push";
import { handler as startPushedDownloads } from "../src/start-pushed-downloads";
import { lambdaEnv, useLocalTable } from "./helpers/local";

const PUSH = { username: "cdse-push", password: "correct horse battery staple" };
const STATE_MACHINE_ARN = "arn:aws:states:us-west-2:123456789012:stateMachine:granules";
const ONE_MINUTE = 60_000;

const table = useLocalTable();
const sfnMock = mockClient(SFNClient);
const s3Mock = mockClient(S3Client);

afterEach(() => {
  sfnMock.reset();
  s3Mock.reset();
});

interface FakeExecution {
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
}

/**
 * Step Functions as far as the function sees it, with StartExecution's name rules: "When the original
 * execution is open and the execution input from the new call is identical, the Success message is
 * returned … When the original execution is closed, the ExecutionAlreadyExists message is returned
 * regardless of input" (StartExecution, name). ListExecutions is newest first; `listLags` makes it
 * miss executions started after the call began, as an eventually consistent list may.
 */
function fakeStepFunctions(options: { listLags?: boolean } = {}) {
  const executions: FakeExecution[] = [];
  const arn = (name: string) => `${STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")}:${name}`;
  sfnMock.on(StartExecutionCommand).callsFake((input: { name: string; input: string }) => {
    const same = executions.find((execution) => execution.name === input.name);
    if (same !== undefined && (same.status !== "RUNNING" || same.input !== input.input)) {
      throw new ExecutionAlreadyExists({
        message: `Execution Already Exists: '${arn(input.name)}'`,
        $metadata: {},
      });
    }
    const execution = same ?? {
      name: input.name,
      input: input.input,
      status: "RUNNING",
      startDate: new Date(),
    };
    if (same === undefined) executions.push(execution);
    return { executionArn: arn(execution.name), startDate: execution.startDate };
  });
  const snapshot = () => [...executions];
  sfnMock.on(ListExecutionsCommand).callsFake(async (input: { statusFilter?: string }) => {
    const seen = snapshot();
    // A lagging list answers from before any StartExecution that runs meanwhile.
    if (options.listLags === true) await sleep(20);
    return {
      executions: seen
        .filter((execution) => input.statusFilter === undefined || execution.status === input.statusFilter)
        .reverse()
        .map((execution) => ({ ...execution, executionArn: arn(execution.name) })),
    };
  });
  return {
    executions,
    finish: (name: string) => (executions.find((e) => e.name === name)!.status = "SUCCEEDED"),
    /** The run ends abnormally at `at` (FAILED, TIMED_OUT or ABORTED). */
    end: (name: string, status: ExecutionStatus, at: Date) =>
      Object.assign(executions.find((e) => e.name === name)!, { status, stopDate: at }),
  };
}

function useLocalRuntime(): void {
  configureRuntime({
    env: lambdaEnv({ HUB_KIND: "cdse", STATE_MACHINE_ARN, LOOKBACK_DAYS: "1" }),
    clients: {
      dynamo: table.documentClient,
      sfn: new SFNClient({ region: "us-west-2" }),
      s3: new S3Client({ region: "us-west-2" }),
    },
    credentials: { push: PUSH },
  });
}

/** CDSE pushes a fresh L1C product published `at` through the real endpoint; returns its id. */
async function push(at: Date): Promise<string> {
  const body = aPushNotification({ publishedAt: at, platform: "B" });
  const id = body.ProductId;
  const response = await receivePush({
    version: "2.0",
    routeKey: "$default",
    rawPath: "/events",
    rawQueryString: "",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${Buffer.from(`${PUSH.username}:${PUSH.password}`).toString("base64")}`,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method: "POST", path: "/events", sourceIp: "127.0.0.1" } },
  } as unknown as APIGatewayProxyEventV2);
  expect(response.statusCode).toBe(204);
  expect(await table.store.getGranule(id)).toMatchObject({ status: "DISCOVERED" });
  return id;
}

/** The event the rule `rate(1 minute)` delivers at `time` (EventBridge's scheduled event). */
function scheduledEvent(time: Date) {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    time: time.toISOString().replace(/\.\d{3}Z$/, "Z"),
    resources: ["arn:aws:events:us-west-2:123456789012:rule/PushedGranulesRun"],
    detail: {},
  };
}

/** The first firing of a 1-minute rate after `at`: never more than a minute later. */
function nextFiring(at: Date): Date {
  return new Date((Math.floor(at.getTime() / ONE_MINUTE) + 1) * ONE_MINUTE);
}

/** The manifest the started run's WriteManifest would write: the granules its Map downloads. */
async function manifestOf(executionName: string, today: Date): Promise<string[]> {
  const start = sfnMock
    .commandCalls(StartExecutionCommand)
    .find((call) => call.args[0].input.name === executionName)!.args[0].input;
  const { from, to, recordedSince } = planWindow(JSON.parse(start.input!), { today, lookbackDays: 1 });
  await writeManifest(
    { from, to, executionName, recordedSince },
    { store: table.store, s3: new S3Client({ region: "us-west-2" }), bucket: "work-bucket" },
    // Written as the run starts, at its firing.
    { reconcileDelayMs: 1, now: () => today },
  );
  const put = s3Mock.commandCalls(PutObjectCommand).at(-1)!.args[0].input;
  expect(put.Key).toBe(`manifests/${executionName}.json`);
  return (JSON.parse(String(put.Body)) as { granuleId: string }[]).map((item) => item.granuleId);
}

describe("StartPushedDownloads, as the 1-minute rule invokes it", () => {
  it("starts the download of a pushed granule within a minute of its push, exactly once", async () => {
    useLocalRuntime();
    const sfn = fakeStepFunctions();
    const pushedAt = new Date();
    const granuleId = await push(pushedAt);
    const firing = nextFiring(pushedAt);
    expect(firing.getTime() - pushedAt.getTime()).toBeLessThanOrEqual(ONE_MINUTE);

    const result = await startPushedDownloads(scheduledEvent(firing));
    expect(result).toMatchObject({ started: true });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1);
    const start = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start).toMatchObject({ stateMachineArn: STATE_MACHINE_ARN, input: '{"downloadOnly":true}' });
    expect(start.name).toMatch(/^pushed-\d{8}T\d{4}Z$/);
    // The run it started lists the pushed granule in its manifest: its child downloads it.
    expect(await manifestOf(start.name!, firing)).toContain(granuleId);

    // EventBridge delivers the same event again ("at least once"): the run is RUNNING, nothing new.
    expect(await startPushedDownloads(scheduledEvent(firing))).toMatchObject({ started: false });
    expect(sfn.executions).toHaveLength(1);
  });

  it("starts a granule pushed while a run downloads at the next minute, in a second run that holds only what came since", async () => {
    useLocalRuntime();
    const sfn = fakeStepFunctions();
    const first = await push(new Date());
    // Recorded two minutes ago, a minute before the first run started.
    await table.documentClient.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { [TABLE_SCHEMA.partitionKey]: `granule#${first}` },
        UpdateExpression: "SET createdAt = :at",
        ExpressionAttributeValues: { ":at": new Date(Date.now() - 2 * ONE_MINUTE).toISOString() },
      }),
    );
    const firing = nextFiring(new Date());
    const started = await startPushedDownloads(scheduledEvent(firing));
    const firstName = (started as { executionName: string }).executionName;
    expect(await manifestOf(firstName, firing)).toContain(first);
    sfn.executions[0]!.startDate = new Date(Date.now() - ONE_MINUTE);

    // Pushed while the first run still works: the next firing starts a run for it, beside the first.
    const second = await push(new Date());
    const later = new Date(firing.getTime() + ONE_MINUTE);
    const result = await startPushedDownloads(scheduledEvent(later));
    expect(result).toMatchObject({ started: true });
    const secondName = (result as { executionName: string }).executionName;
    expect(secondName).not.toBe(firstName);
    const listed = await manifestOf(secondName, later);
    expect(listed).toContain(second);
    expect(listed).not.toContain(first);

    // A firing with nothing recorded since the newest run started starts nothing.
    sfn.executions[1]!.startDate = new Date(Date.now() + 2 * ONE_MINUTE);
    expect(await startPushedDownloads(scheduledEvent(new Date(later.getTime() + ONE_MINUTE)))).toMatchObject({
      started: false,
      executionName: secondName,
    });
    expect(sfn.executions).toHaveLength(2);
  });

  it("after a pushed-granules run fails beside a newer running one, the next firing's run takes the granules it left", async () => {
    useLocalRuntime();
    const sfn = fakeStepFunctions();
    const left = await push(new Date());
    const recordedAt = Date.now();
    const f1 = nextFiring(new Date());
    // The first run lists the granule; a second starts beside it for a later push.
    const first = (await startPushedDownloads(scheduledEvent(f1))) as { executionName: string };
    expect(await manifestOf(first.executionName, f1)).toContain(left);
    await push(new Date());
    const f2 = new Date(f1.getTime() + ONE_MINUTE);
    const second = (await startPushedDownloads(scheduledEvent(f2))) as { executionName: string };
    expect(second).toMatchObject({ started: true });
    // The second started well after the granule was recorded; the first fails before its child ran.
    sfn.executions[1]!.startDate = new Date(recordedAt + 2 * ONE_MINUTE);
    sfn.end(first.executionName, "FAILED", new Date(recordedAt + 3 * ONE_MINUTE));

    const f3 = new Date(f1.getTime() + 2 * ONE_MINUTE);
    const third = await startPushedDownloads(scheduledEvent(f3));
    expect(third).toMatchObject({ started: true, reconciles: first.executionName });
    const thirdName = (third as { executionName: string }).executionName;
    expect(JSON.parse(sfn.executions.at(-1)!.input)).toEqual({ downloadOnly: true });
    expect(await manifestOf(thirdName, f3)).toContain(left);
  });

  it("a granule whose download's lease expired (its worker died) starts a run at the next firing, beside a running one", async () => {
    useLocalRuntime();
    const sfn = fakeStepFunctions();
    const granuleId = await push(new Date());
    const f1 = nextFiring(new Date());
    const first = (await startPushedDownloads(scheduledEvent(f1))) as { executionName: string };
    expect(await manifestOf(first.executionName, f1)).toContain(granuleId);
    // Its start (moved past every granule this file records) leaves the next run nothing recorded since.
    const startedAt = Date.now() + ONE_MINUTE;
    sfn.executions[0]!.startDate = new Date(startedAt);
    // That run's child claimed it and died mid-transfer: nobody renews the lease, and it ends before f2.
    await table.store.claimGranule(granuleId, `${STATE_MACHINE_ARN}:child`);
    await table.documentClient.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { [TABLE_SCHEMA.partitionKey]: `granule#${granuleId}` },
        UpdateExpression: "SET leaseExpiresAt = :at",
        ExpressionAttributeValues: { ":at": startedAt + 1000 },
      }),
    );

    const f2 = new Date(f1.getTime() + 2 * ONE_MINUTE);
    const second = await startPushedDownloads(scheduledEvent(f2));
    expect(second).toMatchObject({ started: true });
    expect(second).toHaveProperty("recordedSince");
    expect(await manifestOf((second as { executionName: string }).executionName, f2)).toEqual([granuleId]);
  });

  it("starts nothing for a redelivery after its slot's run ended, and the next slot's run for what waits", async () => {
    useLocalRuntime();
    const sfn = fakeStepFunctions();
    await push(new Date());
    const firing = nextFiring(new Date());
    const first = await startPushedDownloads(scheduledEvent(firing));
    expect(first).toMatchObject({ started: true });
    const name = (first as { executionName: string }).executionName;
    sfn.finish(name);

    // Same slot, run closed, granules still pending: StartExecution refuses the name, nothing starts.
    expect(await startPushedDownloads(scheduledEvent(new Date(firing.getTime() + 30_000)))).toMatchObject({
      started: false,
      executionName: name,
    });
    expect(sfn.executions).toHaveLength(1);

    const granuleId = await push(new Date());
    const next = new Date(firing.getTime() + ONE_MINUTE);
    const second = await startPushedDownloads(scheduledEvent(next));
    expect(second).toMatchObject({ started: true });
    const secondName = (second as { executionName: string }).executionName;
    expect(secondName).not.toBe(name);
    expect(sfn.executions.map((execution) => execution.name)).toEqual([name, secondName]);
    expect(await manifestOf(secondName, next)).toContain(granuleId);
  });

  it("starts one run when two invocations of a slot race past an eventually consistent list", async () => {
    useLocalRuntime();
    const sfn = fakeStepFunctions({ listLags: true });
    await push(new Date());
    const firing = nextFiring(new Date());
    const results = await Promise.all([
      startPushedDownloads(scheduledEvent(firing)),
      startPushedDownloads(scheduledEvent(firing)),
    ]);
    // Both asked for the slot's name: one execution exists, and both name it.
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(2);
    expect(sfn.executions).toHaveLength(1);
    expect(new Set(results.map((result) => result.executionName))).toEqual(
      new Set([sfn.executions[0]!.name]),
    );
  });

  it("neither lists nor starts executions when no granule of the window is DISCOVERED", async () => {
    useLocalRuntime();
    fakeStepFunctions();
    // A day nothing in this file records on.
    const result = await startPushedDownloads(scheduledEvent(new Date("2040-06-01T10:05:00Z")));
    expect(result).toEqual({
      started: false,
      reason: "no DISCOVERED or expired DOWNLOADING granule in 2040-05-31, 2040-06-01",
    });
    expect(sfnMock.commandCalls(ListExecutionsCommand)).toEqual([]);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toEqual([]);
  });

  it("refuses an event whose time is not a timestamp, naming the field", async () => {
    useLocalRuntime();
    fakeStepFunctions();
    await expect(startPushedDownloads({ time: "yesterday" })).rejects.toMatchObject({
      name: "InvalidInputError",
      field: "time",
    });
  });
});
