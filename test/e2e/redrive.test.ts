import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { objectKeyFor } from "@hls-s2/core/domain";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import {
  type AwsCall,
  buildCatalogue,
  type EmbeddedStores,
  listExecutionRecords,
  listUploads,
  loadSynthesizedWorkflow,
  redriveLocal,
  runLocal,
  startEmbeddedStores,
} from "@hls-s2/local";
import type { FaultPlan, MockHub } from "@hls-s2/mock-hub";
import { EXIT, main } from "@hls-s2/ops/cli";
import { SHORT_HORIZON_ENV } from "@hls-s2/testing/data-folder";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

const DAY = "2026-04-02";
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await loadSynthesizedWorkflow();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hls-s2-redrive-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function reopen(dataDir: string): Promise<{ stores: EmbeddedStores; store: GranuleStore }> {
  const stores = await startEmbeddedStores({ dataDir, dynamo: "dynalite" });
  cleanups.push(() => stores.close());
  const store = new GranuleStore(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
  return { stores, store };
}

function captureIo() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      stdout: { write: (text: string) => (out.stdout += text) },
      stderr: { write: (text: string) => (out.stderr += text) },
    },
  };
}

/**
 * A hub outage for some downloads: their `$value` answers 429 with a Retry-After of an hour on every
 * request until the hub restarts. The hub client does not sleep through an hour, so each attempt fails
 * at once with the retryable HubThrottledError and the state machine's Retry runs out (a 503 outage
 * fails the same way, only after the client's own seconds-long backoff on every attempt).
 */
function outageOf(ids: string[]): FaultPlan {
  return {
    granules: Object.fromEntries(
      ids.map((id) => [
        id,
        {
          kind: "throttle429",
          times: Number.POSITIVE_INFINITY,
          on: "value",
          retryAfterSeconds: 3600,
        } as const,
      ]),
    ),
  };
}

describe("a hub outage, then npm run ops -- redrive --local DIR", () => {
  it("fails the Map beyond its tolerated failures, then re-downloads only the failed granules once the hub recovers", {
    timeout: 120_000,
  }, async () => {
    const dataDir = await tempDataDir();
    const params = {
      seed: "e2e-redrive",
      granulesPerDay: 10,
      productSize: { min: 96 * 1024, max: 192 * 1024 },
    };
    const catalogue = buildCatalogue(params, [DAY]);
    const failing = catalogue.products.slice(0, 4).map((product) => product.id);
    const healthy = catalogue.products.slice(4).map((product) => product.id);
    let firstHub: MockHub | undefined;

    // Concurrency 10: every child starts before the first failure exceeds the tolerated 10%.
    const first = await runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      ...params,
      // The test counts every catalogue product; the HLS tile filter is hls-tiles.test.ts's.
      allTiles: true,
      concurrency: 10,
      retryDelayMs: 1,
      faults: outageOf(failing),
      onMockHub: (hub) => {
        firstHub = hub;
      },
    });

    // 4 of 10 failed: beyond ToleratedFailurePercentage, so the execution FAILED at the Map, as in AWS.
    expect(first.status).toBe("FAILED");
    expect(first.error).toMatchObject({
      name: "States.ExceedToleratedFailureThreshold",
      state: "DownloadGranules",
    });
    expect(first.mapRun).toMatchObject({ status: "FAILED", succeeded: 6, failed: 4, pending: 0 });
    {
      const { stores, store } = await reopen(dataDir);
      for (const id of failing) {
        // Recorded FAILED with its error before the Download step ended.
        const record = await store.getGranule(id);
        expect(record).toMatchObject({ status: "FAILED", lastError: { name: "HubThrottledError" } });
        expect(record?.lastError?.message).not.toBe("");
        // The outage answered every attempt; the hub served none of these products.
        expect(firstHub!.stats.granule(id).valueGets).toBe(0);
      }
      for (const id of healthy) expect(firstHub!.stats.granule(id).valueGets).toBe(1);
      // The ResultWriter's files, in the embedded work bucket.
      const { Bucket, Key } = first.mapRun!.resultWriterDetails!;
      expect(Bucket).not.toBe("");
      const manifest = JSON.parse(String(await stores.readObject(Key, stores.workBucketName))) as {
        ResultFiles: Record<string, { Key: string }[]>;
      };
      const failedFile = JSON.parse(
        String(await stores.readObject(manifest.ResultFiles["FAILED"]![0]!.Key, stores.workBucketName)),
      ) as { Error: string }[];
      expect(failedFile.map((entry) => entry.Error)).toEqual(Array(4).fill("HubThrottledError"));
      await stores.close();
      cleanups.pop();
    }

    // The hub recovers: the redrive starts a mock hub from the persisted catalogue, without the outage.
    let hub: MockHub | undefined;
    const redriveStarted = Date.now();
    const { out, io } = captureIo();
    const code = await main(["redrive", "--local", dataDir, "--json"], {
      ...io,
      local: {
        retryDelayMs: 1,
        onProgress: () => undefined,
        onMockHub: (mock) => {
          hub = mock;
        },
      },
    });

    expect(code).toBe(EXIT.ok);
    const redriven = JSON.parse(out.stdout) as Awaited<ReturnType<typeof redriveLocal>>;
    expect(redriven).toMatchObject({
      executionName: first.executionName,
      status: "SUCCEEDED",
      redriveCount: 1,
      mapRun: { status: "SUCCEEDED", succeeded: 10, failed: 0, pending: 0 },
    });
    // Only the failed children ran; the succeeded ones were not run, so their granules saw no GET.
    for (const id of failing) expect(hub!.stats.granule(id).valueGets).toBe(1);
    for (const id of healthy) expect(hub!.stats.granule(id).valueGets).toBe(0);
    expect(hub!.stats.route("dhus.search")).toBe(0);

    const { stores, store } = await reopen(dataDir);
    for (const product of catalogue.products) {
      const key = objectKeyFor(product.name);
      expect(await store.getGranule(product.id)).toMatchObject({ status: "DOWNLOADED", s3Key: key });
      const bytes = await stores.readObject(key);
      expect(createHash("md5").update(bytes!).digest("hex")).toBe(catalogue.expectedMd5(product.id));
    }
    // One object per granule. The redrive leaves no unfinished upload of its own; the outage's attempts
    // each left an empty one behind (transfer.ts creates the upload before the hub answers 429).
    expect(await stores.listKeys()).toHaveLength(catalogue.products.length);
    const unfinished = await listUploads(stores.s3Directory, stores.bucketName);
    expect(unfinished.filter((upload) => upload.initiated.getTime() >= redriveStarted)).toEqual([]);
    const [record] = await listExecutionRecords(dataDir);
    expect(record).toMatchObject({ name: first.executionName, status: "SUCCEEDED", redriveCount: 1 });
  });

  it("redrives children never started from their first state, and refuses to redrive a SUCCEEDED execution", {
    timeout: 120_000,
  }, async () => {
    const dataDir = await tempDataDir();
    const params = { seed: "e2e-redrive-pending", granulesPerDay: 6, productSize: 64 * 1024 };
    const catalogue = buildCatalogue(params, [DAY]);
    const calls: AwsCall[] = [];

    // Concurrency 1 and the first granule failing: the threshold is exceeded at once, nothing else starts.
    const first = await runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      ...params,
      allTiles: true,
      concurrency: 1,
      retryDelayMs: 1,
      faults: outageOf(catalogue.products.map((product) => product.id)),
    });
    expect(first.mapRun).toMatchObject({ failed: 1, pending: 5 });

    const second = await redriveLocal({ dataDir, retryDelayMs: 1, onAwsCall: (call) => calls.push(call) });

    expect(second.status).toBe("SUCCEEDED");
    expect(second.totals).toMatchObject({ found: 6, downloaded: 6, failed: 0 });
    const machine = calls.filter((call) => call.principal === "StateMachine");
    expect(machine.filter((call) => call.command === "RedriveExecution")).toHaveLength(1);
    expect(machine.filter((call) => call.command === "StartExecution")).toHaveLength(5);
    // The redrive continues at the Map: the manifest it read stays, no Lambda before it runs again.
    expect(machine.some((call) => call.command === "GetObject")).toBe(false);
    expect(
      machine.filter((call) => call.command === "Invoke").map((call) => call.input["FunctionName"]),
    ).not.toContainEqual(expect.stringContaining("WriteManifest"));

    await expect(redriveLocal({ dataDir, executionName: first.executionName })).rejects.toMatchObject({
      name: "ExecutionNotRedrivable",
    });
  });
});
