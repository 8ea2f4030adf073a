import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import type { AwsCall } from "../../src/aws/aws-calls";
import type { AslState, DistributedMapNote } from "../../src/aws/definition";
import { type MapRunRecord, runMapRun, thresholdExceeded } from "../../src/aws/map-run";

const STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:local";
const EXECUTION = { arn: "arn:aws:states:us-east-1:123456789012:execution:local:run-1", name: "run-1" };

/** A Distributed Map shaped like the synthesized one: S3 JSON reader, ItemSelector, a Download Task. */
function aMap(fields: Record<string, unknown> = {}, states?: Record<string, AslState>): DistributedMapNote {
  const state: AslState = {
    Type: "Map",
    ItemProcessor: {
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
      StartAt: "Download",
      States: states ?? { Download: { Type: "Task", Resource: "arn:aws:lambda:::function:dl", End: true } },
    },
    ItemReader: {
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSON" },
      Parameters: { Bucket: "work", "Key.$": "$.manifest.key" },
    },
    ItemSelector: { "granuleId.$": "$$.Map.Item.Value.granuleId", "index.$": "$$.Map.Item.Index" },
    ResultWriter: {
      Resource: "arn:aws:states:::s3:putObject",
      Parameters: { Bucket: "work", Prefix: "results/" },
    },
    ResultPath: null,
    End: true,
    ...fields,
  };
  return {
    stateName: "DownloadGranules",
    state,
    ...(typeof state["MaxConcurrency"] === "number" && { maxConcurrency: state["MaxConcurrency"] }),
  };
}

/** An S3 mock serving `items` as the manifest and keeping every PutObject body. */
function s3With(items: unknown[]) {
  const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  const mock = mockClient(s3);
  const put = new Map<string, unknown>();
  mock.on(GetObjectCommand).callsFake(async () => ({
    Body: { transformToString: async () => JSON.stringify(items) },
  }));
  mock.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: string }) => {
    put.set(input.Key, JSON.parse(input.Body));
    return {};
  });
  return { s3, put };
}

const ITEMS = (n: number) => Array.from({ length: n }, (_, i) => ({ granuleId: `g${i}`, name: `n${i}` }));

/** Runs the Map with a Download binding; `fails` decides per granule id whether it throws. */
async function run(
  map: DistributedMapNote,
  items: unknown[],
  options: {
    fails?: (id: string) => boolean;
    previous?: MapRunRecord;
    onDownload?: (id: string) => Promise<void>;
  } = {},
) {
  const { s3, put } = s3With(items);
  const calls: AwsCall[] = [];
  const downloads: string[] = [];
  let record: MapRunRecord | undefined;
  const outcome = await runMapRun({
    map,
    input: { manifest: { key: "manifests/run-1.json" } },
    execution: EXECUTION,
    stateMachineArn: STATE_MACHINE,
    s3,
    previous: options.previous,
    child: {
      taskResourceLocalHandlers: {
        Download: async (input) => {
          const { granuleId } = input as { granuleId: string };
          downloads.push(granuleId);
          await options.onDownload?.(granuleId);
          if (options.fails?.(granuleId) === true) {
            const error = new Error(`hub down for ${granuleId}`);
            error.name = "HubUnavailableError";
            throw error;
          }
          return { granuleId, outcome: "downloaded" };
        },
      },
    },
    onAwsCall: (call) => calls.push(call),
    onRecord: (r) => {
      record = structuredClone(r);
    },
  }).then(
    (output) => ({ output, error: undefined }),
    (error: Error) => ({ output: undefined, error }),
  );
  return { ...outcome, record: record!, calls, downloads, put };
}

describe("thresholdExceeded", () => {
  it("tolerates nothing when neither a percentage nor a count is set", () => {
    expect(thresholdExceeded(0, 10, {})).toBe(false);
    expect(thresholdExceeded(1, 10, {})).toBe(true);
  });

  it("fails only strictly above the percentage", () => {
    expect(thresholdExceeded(1, 10, { percentage: 10 })).toBe(false);
    expect(thresholdExceeded(2, 10, { percentage: 10 })).toBe(true);
    expect(thresholdExceeded(10, 10, { percentage: 100 })).toBe(false);
  });

  it("fails only strictly above the count, and on either when both are set", () => {
    expect(thresholdExceeded(2, 10, { count: 2 })).toBe(false);
    expect(thresholdExceeded(3, 10, { count: 2 })).toBe(true);
    expect(thresholdExceeded(2, 10, { count: 5, percentage: 10 })).toBe(true);
    expect(thresholdExceeded(3, 100, { count: 2, percentage: 50 })).toBe(true);
  });
});

describe("runMapRun", () => {
  it("reads the items from S3, selects each with $$.Map.Item and runs one child execution per item", async () => {
    const result = await run(aMap(), ITEMS(3));

    expect(result.error).toBeUndefined();
    expect(result.downloads.sort()).toEqual(["g0", "g1", "g2"]);
    expect(result.record.children.map((c) => c.input)).toEqual([
      { granuleId: "g0", index: 0 },
      { granuleId: "g1", index: 1 },
      { granuleId: "g2", index: 2 },
    ]);
    expect(result.calls).toContainEqual({
      principal: "StateMachine",
      service: "s3",
      command: "GetObject",
      input: { Bucket: "work", Key: "manifests/run-1.json" },
    });
    const starts = result.calls.filter((c) => c.command === "StartExecution");
    expect(starts).toHaveLength(3);
    for (const start of starts) {
      expect(start).toMatchObject({
        principal: "StateMachine",
        service: "states",
        input: { stateMachineArn: STATE_MACHINE },
      });
    }
  });

  it("writes manifest.json and SUCCEEDED_0.json / FAILED_0.json under <prefix>/<map run id>/ and returns the manifest's place", async () => {
    const result = await run(aMap({ ToleratedFailurePercentage: 50 }), ITEMS(4), {
      fails: (id) => id === "g2",
    });

    const { mapRunId, mapRunArn } = result.record;
    const folder = `results/${mapRunId}`;
    expect(result.output).toEqual({
      MapRunArn: mapRunArn,
      ResultWriterDetails: { Bucket: "work", Key: `${folder}/manifest.json` },
    });
    const manifest = result.put.get(`${folder}/manifest.json`) as {
      DestinationBucket: string;
      MapRunArn: string;
      ResultFiles: Record<string, { Key: string; Size: number }[]>;
    };
    expect(manifest.DestinationBucket).toBe("work");
    expect(manifest.MapRunArn).toBe(mapRunArn);
    expect(manifest.ResultFiles["SUCCEEDED"]?.map((f) => f.Key)).toEqual([`${folder}/SUCCEEDED_0.json`]);
    expect(manifest.ResultFiles["FAILED"]?.map((f) => f.Key)).toEqual([`${folder}/FAILED_0.json`]);
    expect(manifest.ResultFiles["PENDING"]).toEqual([]);
    const failed = result.put.get(`${folder}/FAILED_0.json`) as Record<string, unknown>[];
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      Status: "FAILED",
      Error: "HubUnavailableError",
      Cause: "hub down for g2",
      Input: JSON.stringify({ granuleId: "g2", index: 2 }),
    });
    expect((result.put.get(`${folder}/SUCCEEDED_0.json`) as unknown[]).length).toBe(3);
    expect(
      result.calls
        .filter((c) => c.command === "PutObject")
        .map((c) => `${c.input["Bucket"]}/${c.input["Key"]}`),
    ).toEqual([
      `work/${folder}/FAILED_0.json`,
      `work/${folder}/SUCCEEDED_0.json`,
      `work/${folder}/manifest.json`,
    ]);
  });

  it("fails the Map with States.ExceedToleratedFailureThreshold just above ToleratedFailurePercentage", async () => {
    const atLimit = await run(aMap({ ToleratedFailurePercentage: 20, MaxConcurrency: 1 }), ITEMS(10), {
      fails: (id) => id === "g3" || id === "g7",
    });
    expect(atLimit.error).toBeUndefined();

    const above = await run(aMap({ ToleratedFailurePercentage: 20, MaxConcurrency: 1 }), ITEMS(10), {
      fails: (id) => ["g3", "g5", "g7"].includes(id),
    });
    expect(above.error).toMatchObject({ name: "States.ExceedToleratedFailureThreshold" });
    expect(above.record.status).toBe("FAILED");
  });

  it("fails the Map just above ToleratedFailureCount", async () => {
    const atLimit = await run(aMap({ ToleratedFailureCount: 1 }), ITEMS(3), { fails: (id) => id === "g0" });
    expect(atLimit.error).toBeUndefined();
    const above = await run(aMap({ ToleratedFailureCount: 1 }), ITEMS(3), { fails: (id) => id !== "g2" });
    expect(above.error).toMatchObject({ name: "States.ExceedToleratedFailureThreshold" });
  });

  it("runs the item processor verbatim: a Fail state fails its child, and with no threshold the Map", async () => {
    const map = aMap(
      {},
      {
        Download: { Type: "Task", Resource: "arn:aws:lambda:::function:dl", Next: "Stop" },
        Stop: { Type: "Fail", Error: "Stopped", Cause: "by definition" },
      },
    );
    const result = await run(map, ITEMS(1));

    expect(result.error).toMatchObject({ name: "States.ExceedToleratedFailureThreshold" });
    expect(result.record.children[0]).toMatchObject({
      status: "FAILED",
      error: { Error: "Stopped", Cause: "by definition" },
      failedState: { name: "Stop" },
    });
  });

  it("starts no new child once the threshold is exceeded; the rest stay PENDING", async () => {
    const result = await run(aMap({ MaxConcurrency: 1 }), ITEMS(5), { fails: (id) => id === "g1" });

    expect(result.downloads).toEqual(["g0", "g1"]);
    expect(result.record.children.map((c) => c.status)).toEqual([
      "SUCCEEDED",
      "FAILED",
      "PENDING",
      "PENDING",
      "PENDING",
    ]);
    const pending = result.put.get(`results/${result.record.mapRunId}/PENDING_0.json`) as unknown[];
    expect(pending).toHaveLength(3);
  });

  it("never runs more children at once than MaxConcurrency", async () => {
    let running = 0;
    let peak = 0;
    const result = await run(aMap({ MaxConcurrency: 3 }), ITEMS(12), {
      onDownload: async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(15);
        running--;
      },
    });

    expect(result.error).toBeUndefined();
    expect(peak).toBe(3);
  });

  it("redrives only the unsuccessful and not-started children, each from its failed state, same ARN", async () => {
    const map = aMap(
      { MaxConcurrency: 1 },
      {
        Prepare: { Type: "Pass", Result: "prepared", ResultPath: "$.step", Next: "Download" },
        Download: { Type: "Task", Resource: "arn:aws:lambda:::function:dl", End: true },
      },
    );
    (map.state["ItemProcessor"] as { StartAt: string }).StartAt = "Prepare";
    const first = await run(map, ITEMS(5), { fails: (id) => id === "g1" });
    expect(first.record.children[1]).toMatchObject({
      status: "FAILED",
      failedState: { name: "Download", input: { granuleId: "g1", index: 1, step: "prepared" } },
    });

    const redrive = await run(map, ITEMS(5), { previous: structuredClone(first.record) });

    expect(redrive.error).toBeUndefined();
    expect(redrive.downloads).toEqual(["g1", "g2", "g3", "g4"]);
    expect(redrive.record.mapRunId).toBe(first.record.mapRunId);
    expect(redrive.record.redriveCount).toBe(1);
    expect(redrive.record.children.every((c) => c.status === "SUCCEEDED")).toBe(true);
    expect(redrive.record.children[0]).toEqual(first.record.children[0]);
    expect(redrive.calls.filter((c) => c.command === "RedriveExecution")).toEqual([
      {
        principal: "StateMachine",
        service: "states",
        command: "RedriveExecution",
        input: { executionArn: first.record.children[1]!.executionArn },
      },
    ]);
    expect(redrive.calls.filter((c) => c.command === "StartExecution")).toHaveLength(3);
    expect(redrive.calls.some((c) => c.command === "GetObject")).toBe(false);
  });
});
