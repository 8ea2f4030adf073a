import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { objectKeyFor } from "@hls-s2/core/domain";
import { MISMATCH_MAX_ATTEMPTS } from "@hls-s2/core/errors";
import {
  adaptDefinition,
  buildCatalogue,
  type CatalogueParams,
  dynamoDbLocalAvailable,
  listUploads,
  loadSynthesizedWorkflow,
  type RunLocalOptions,
  runLocal,
} from "@hls-s2/local";
import { EXIT, exitCodeFor, main } from "@hls-s2/local/cli";
import { createCatalogue, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import {
  granulesOf,
  objectMd5,
  reopen,
  SHORT_HORIZON_ENV,
  tempDataDir,
  useCleanups,
} from "@hls-s2/testing/data-folder";
import { beforeAll, describe, expect, it, vi } from "vitest";

const DAY = "2026-03-14";
const MIB = 1024 * 1024;
const cleanups = useCleanups();

// Synthesizing the stacks (importing sst and CDK) takes seconds: once per file, under the hook timeout.
beforeAll(async () => {
  await loadSynthesizedWorkflow();
});

function smallDay(
  dataDir: string,
  params: CatalogueParams,
  extra: Partial<RunLocalOptions> = {},
): RunLocalOptions {
  return {
    dataDir,
    from: DAY,
    to: DAY,
    seed: params.seed,
    granulesPerDay: params.granulesPerDay,
    productSize: params.productSize,
    concurrency: 6,
    retryDelayMs: 10,
    // The handlers' hub retries too back off from milliseconds, not the deployed 500 ms.
    hubRetryDelayMs: 10,
    // These tests follow every catalogue product; the HLS tile filter is test/e2e/hls-tiles.test.ts's.
    allTiles: true,
    // dynalite starts in a fraction of DynamoDB Local's seconds; the first test and the CLI's take "auto".
    dynamo: "dynalite",
    lambdaEnv: SHORT_HORIZON_ENV,
    ...extra,
  };
}

describe("runLocal against the built-in mock hub", () => {
  it("downloads every granule of a day exactly once, each object hashing to the catalogue's MD5", async () => {
    const dataDir = await tempDataDir(cleanups);
    const params = { seed: "e2e-first-run", granulesPerDay: 12, productSize: { min: MIB, max: 2 * MIB } };
    const catalogue = buildCatalogue(params, [DAY]);
    let mock: MockHub | undefined;
    const snapshots: string[] = [];

    const summary = await runLocal(
      smallDay(dataDir, params, {
        onMockHub: (hub) => {
          mock = hub;
        },
        onProgress: (snapshot) => snapshots.push(snapshot.step),
        dynamo: "auto",
      }),
    );

    const { stores, store } = await reopen(dataDir, cleanups);
    const records = new Map((await granulesOf(store, DAY)).map((record) => [record.granuleId, record]));
    expect(records.size).toBe(catalogue.products.length);
    for (const product of catalogue.products) {
      const key = objectKeyFor(product.name);
      expect(records.get(product.id)).toMatchObject({
        status: "DOWNLOADED",
        s3Key: key,
        bytesWritten: product.sizeBytes,
      });
      expect(await objectMd5(stores, key)).toBe(catalogue.expectedMd5(product.id));
      expect(mock!.stats.granule(product.id).valueGets).toBe(1);
    }
    expect(await stores.listKeys()).toHaveLength(catalogue.products.length);
    expect(await listUploads(stores.s3Directory, stores.bucketName)).toEqual([]);

    const bytes = catalogue.products.reduce((sum, product) => sum + product.sizeBytes, 0);
    expect(summary.totals).toMatchObject({
      found: 12,
      filtered: 0,
      recorded: 12,
      downloaded: 12,
      failed: 0,
      pending: 0,
      missing: 0,
      failures: {},
      bytes,
    });
    // This run is on AWS's DynamoDB Local wherever a JDK is present (these machines).
    expect(summary.store.backend).toBe(dynamoDbLocalAvailable() ? "dynamodb-local" : "dynalite");
    expect(summary.run).toMatchObject({ manifest: 12, downloaded: 12, failed: 0, bytes });
    expect(summary.status).toBe("SUCCEEDED");
    expect(summary.output?.totals.counts.DOWNLOADED).toBe(12);
    expect(summary.days[0]!.platforms.reduce((sum, p) => sum + p.found, 0)).toBe(12);
    expect(summary.nothingToDownload).toBe(false);
    expect(snapshots).toEqual(
      expect.arrayContaining(["GenerateQueries", "FetchLinks", "DownloadGranules", "Summarize"]),
    );
  });

  it("downloads nothing on a second run over the same data folder", async () => {
    const dataDir = await tempDataDir(cleanups);
    const params = { seed: "e2e-rerun", granulesPerDay: 4, productSize: 256 * 1024 };
    await runLocal(smallDay(dataDir, params));
    let mock: MockHub | undefined;

    // No catalogue flags: the rerun must serve the same products from the parameters it persisted.
    const second = await runLocal({
      dataDir,
      from: DAY,
      to: DAY,
      retryDelayMs: 10,
      onMockHub: (hub) => {
        mock = hub;
      },
    });

    expect(JSON.parse(await readFile(join(dataDir, "catalogue.json"), "utf8"))).toEqual(params);
    expect(mock!.stats.route("dhus.value")).toBe(0);
    expect(second.nothingToDownload).toBe(true);
    expect(second.run).toMatchObject({ manifest: 0, downloaded: 0, bytes: 0 });
    expect(second.totals).toMatchObject({ found: 4, downloaded: 4, failed: 0 });
  });

  it("skips the search with downloadOnly, so an empty table has nothing to download", async () => {
    const dataDir = await tempDataDir(cleanups);
    let mock: MockHub | undefined;

    const summary = await runLocal(
      smallDay(
        dataDir,
        { seed: "e2e-download-only", granulesPerDay: 3, productSize: 64 * 1024 },
        {
          downloadOnly: true,
          onMockHub: (hub) => {
            mock = hub;
          },
        },
      ),
    );

    expect(mock!.stats.route("dhus.search")).toBe(0);
    expect(summary.totals.found).toBe(0);
    expect(summary.nothingToDownload).toBe(true);
  });

  it("records always-corrupt and withdrawn granules FAILED with their error names, fails the Map beyond its tolerance and leaves no stray object or upload", async () => {
    const dataDir = await tempDataDir(cleanups);
    const params = {
      seed: "e2e-faults",
      granulesPerDay: 8,
      productSize: { min: 256 * 1024, max: 512 * 1024 },
    };
    const [gone1, gone2, corrupt, flaky, unavailable] = buildCatalogue(params, [DAY]).products;
    let mock: MockHub | undefined;

    // Concurrency 8: every child starts before the first failure exceeds the tolerated 10%.
    const summary = await runLocal(
      smallDay(dataDir, params, {
        concurrency: 8,
        faults: {
          granules: {
            [gone1!.id]: { kind: "gone" },
            [gone2!.id]: { kind: "gone", status: 410 },
            [corrupt!.id]: { kind: "corruptAlways" },
            [flaky!.id]: { kind: "corruptOnce" },
            [unavailable!.id]: { kind: "http5xx", times: 2 },
          },
        },
        onMockHub: (hub) => {
          mock = hub;
        },
      }),
    );

    const { stores, store } = await reopen(dataDir, cleanups);
    const failed = await store.listByStatus(DAY, "FAILED");
    expect(Object.fromEntries(failed.map((g) => [g.granuleId, g.lastError?.name]))).toEqual({
      [gone1!.id]: "GranuleGoneError",
      [gone2!.id]: "GranuleGoneError",
      [corrupt!.id]: "ChecksumMismatchError",
    });
    for (const granule of [gone1!, gone2!, corrupt!]) {
      expect(await objectMd5(stores, objectKeyFor(granule.name))).toBeUndefined();
    }
    // A flipped byte heals on the second download; a 503 twice is retried by the hub client or the state machine.
    expect((await store.getGranule(flaky!.id))?.status).toBe("DOWNLOADED");
    expect((await store.getGranule(unavailable!.id))?.status).toBe("DOWNLOADED");
    // MaxAttempts counts retries, as in AWS: the first download plus MISMATCH_MAX_ATTEMPTS more.
    expect(mock!.stats.granule(corrupt!.id).valueGets).toBe(1 + MISMATCH_MAX_ATTEMPTS);
    expect(await stores.listKeys()).toHaveLength(5);
    expect(await listUploads(stores.s3Directory, stores.bucketName)).toEqual([]);
    expect(summary.totals).toMatchObject({
      found: 8,
      downloaded: 5,
      failed: 3,
      failures: { GranuleGoneError: 2, ChecksumMismatchError: 1 },
    });
    expect(summary.run.failures).toEqual({ GranuleGoneError: 2, ChecksumMismatchError: 1 });
    // 3 of 8 failed, more than the synthesized ToleratedFailurePercentage (10): the execution FAILED there.
    expect(summary.status).toBe("FAILED");
    expect(summary.error).toMatchObject({
      name: "States.ExceedToleratedFailureThreshold",
      state: "DownloadGranules",
    });
    expect(summary.mapRun).toMatchObject({ status: "FAILED", succeeded: 5, failed: 3, pending: 0 });
    expect(summary.output).toBeUndefined();
    await stores.close();

    // Terminal means terminal: the rerun fetches neither the corrupt nor the gone granules again,
    // has nothing to do, and still shows the earlier failures.
    let rerunHub: MockHub | undefined;
    const rerun = await runLocal(
      smallDay(dataDir, params, {
        faults: { granules: { [corrupt!.id]: { kind: "corruptAlways" } } },
        onMockHub: (hub) => {
          rerunHub = hub;
        },
      }),
    );
    for (const granule of [gone1!, gone2!, corrupt!]) {
      expect(rerunHub!.stats.granule(granule.id).valueGets).toBe(0);
    }
    expect(rerun.nothingToDownload).toBe(true);
    expect(rerun.run).toMatchObject({ manifest: 0, downloaded: 0, failed: 0 });
    expect(rerun.totals).toMatchObject({ recorded: 8, failed: 3, missing: 0 });
    expect(exitCodeFor(rerun)).toBe(EXIT.ok);
  });
});

describe("the synthesized workflow the local run executes", () => {
  it("adapts the stack's Distributed Map and binds every Task state to a handler", async () => {
    const workflow = await loadSynthesizedWorkflow();
    const local = adaptDefinition(workflow.definition, { concurrency: 4 });

    expect(local.distributedMaps.map((map) => [map.stateName, map.maxConcurrency])).toEqual([
      ["DownloadGranules", 4],
    ]);
    // The Map's own fields reach the Map Run executor as synthesized.
    expect(local.distributedMaps[0]!.state).toEqual(
      expect.objectContaining({
        ToleratedFailurePercentage:
          workflow.definition.States["DownloadGranules"]!["ToleratedFailurePercentage"],
        ItemReader: workflow.definition.States["DownloadGranules"]!["ItemReader"],
        ResultWriter: workflow.definition.States["DownloadGranules"]!["ResultWriter"],
      }),
    );
    // RecordQueryFailure invokes the FetchPage function (FetchLinks' Catch).
    expect([...local.taskStates].sort()).toEqual(
      [...Object.keys(workflow.tasks), "RecordQueryFailure"].sort(),
    );
    expect(workflow.environment).toMatchObject({ HUB_KIND: "dhus", DOWNLOADS_ENABLED: "true" });
    expect(workflow.timeouts.Download).toBe(900);
  });

  it("runs the same states against the mock hub speaking CDSE (token, catalogue, zipper)", async () => {
    const dataDir = await tempDataDir(cleanups);
    const params = { seed: "e2e-cdse", granulesPerDay: 3, productSize: 128 * 1024 };
    const catalogue = buildCatalogue(params, [DAY]);

    const summary = await runLocal(smallDay(dataDir, params, { mockKind: "cdse" }));

    expect(summary.hub.kind).toBe("cdse");
    expect(summary.totals).toMatchObject({ found: 3, downloaded: 3, failed: 0 });
    const { stores } = await reopen(dataDir, cleanups);
    for (const product of catalogue.products) {
      expect(await objectMd5(stores, objectKeyFor(product.name))).toBe(catalogue.expectedMd5(product.id));
    }
  });
});

describe("runLocal against an external hub", () => {
  async function separateMockHub(seed: string, granulesPerDay: number) {
    const catalogue = createCatalogue({
      seed,
      days: [DAY],
      platforms: ["S2A", "S2B"],
      granulesPerDay,
      sizeBytes: 300 * 1024,
    });
    const credentials = { username: "operator", password: "s3cret-for-test" };
    const hub = await startMockHub({ catalogue, port: 0, host: "127.0.0.1", credentials });
    cleanups.add(() => hub.close());
    return { hub, catalogue, credentials };
  }

  it("downloads from a hub reachable by URL with the credentials given", async () => {
    const dataDir = await tempDataDir(cleanups);
    const { hub, catalogue, credentials } = await separateMockHub("e2e-external", 5);

    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      platforms: ["S2A", "S2B"],
      retryDelayMs: 10,
      hub: { kind: "dhus", url: hub.url, credentials },
    });

    expect(summary.hub).toEqual({ kind: "dhus", url: hub.url, mock: false });
    expect(summary.totals).toMatchObject({ found: 5, downloaded: 5, failed: 0 });
    const { stores } = await reopen(dataDir, cleanups);
    for (const product of catalogue.products) {
      expect(hub.stats.granule(product.id).valueGets).toBe(1);
      expect(await objectMd5(stores, objectKeyFor(product.name))).toBe(catalogue.expectedMd5(product.id));
    }
    // An external hub's catalogue is not ours to persist.
    await expect(readFile(join(dataDir, "catalogue.json"), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("fails the run with HubAuthError when the hub refuses the credentials", async () => {
    const dataDir = await tempDataDir(cleanups);
    const { hub } = await separateMockHub("e2e-refused", 2);

    const run = runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      retryDelayMs: 10,
      hub: { kind: "dhus", url: hub.url, credentials: { username: "operator", password: "wrong" } },
    });

    await expect(run).rejects.toMatchObject({ name: "HubAuthError" });
    await expect(run).rejects.not.toThrow(/wrong/);
  });

  it("rejects a window whose from is after its to before creating anything", async () => {
    const dataDir = join(await tempDataDir(cleanups), "never-created");
    await expect(runLocal({ dataDir, from: DAY, to: "2026-03-01" })).rejects.toMatchObject({
      name: "InvalidInputError",
    });
    await expect(readFile(join(dataDir, "catalogue.json"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("npm run local (the CLI's main)", () => {
  it("prints a JSON summary, then says a second run has nothing to download", async () => {
    const dataDir = await tempDataDir(cleanups);
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const flags = ["--data-dir", dataDir, "--day", DAY, "--platforms", "S2B"];
    // dynalite, as smallDay's runs: the second run, without the flag, keeps the folder's stand-in.
    const catalogue = ["--granules", "3", "--size", "64KiB", "--seed", "e2e-cli", "--dynamo", "dynalite"];

    const first = await main([...flags, ...catalogue, "--json"]);
    const json = JSON.parse(stdout.mock.calls.map(([chunk]) => String(chunk)).join(""));
    stdout.mockClear();
    const second = await main(flags);
    const text = stdout.mock.calls.map(([chunk]) => String(chunk)).join("");
    vi.restoreAllMocks();

    expect(first).toBe(EXIT.ok);
    expect(json.platforms).toEqual(["S2B"]);
    expect(json.run.downloaded).toBe(json.totals.found);
    expect(second).toBe(EXIT.ok);
    expect(text).toContain(`Nothing to download, ${json.totals.downloaded} granules already downloaded.`);
    expect(stderr.mock.calls.map(([chunk]) => String(chunk)).join("")).toContain("Summarize");
  });
});
