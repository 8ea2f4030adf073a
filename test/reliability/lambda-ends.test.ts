import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { objectKeyFor } from "@hls-s2/core/domain";
import { buildCatalogue, type LambdaInvocation, runLocal } from "@hls-s2/local";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";
import { granulesOf, objectMd5, reopen, tempDataDir, useCleanups } from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { KIB, shareSynthesis, useSharedSynthesis } from "./helpers";

// Every way a Lambda can end, through the local runner and the synthesized definition: killed at its
// timeout or out of memory (Lambda.Unknown), or failing one query for good.

const DAY = "2026-03-21";
const CREDENTIALS = { username: "lambda-ends", password: "lambda-ends-test" };
const cleanups = useCleanups();

/**
 * The mock hub behind a loopback proxy that answers every DHuS search of `platform` with JSON of the
 * wrong shape (InvalidHubDataError: terminal) and passes everything else through.
 */
async function hubBreakingSearchesOf(platform: "S2A" | "S2B" | "S2C", products: number) {
  const catalogue = createCatalogue({
    seed: "lambda-ends",
    days: [DAY],
    platforms: ["S2A", "S2B", "S2C"],
    granulesPerDay: products,
    sizeBytes: 200 * KIB,
  });
  const mock = await startMockHub({ catalogue, port: 0, host: "127.0.0.1", credentials: CREDENTIALS });
  cleanups.add(() => mock.close());
  const upstream = new URL(mock.url);
  const broken = `platformserialidentifier:Sentinel-${platform.slice(1)}`;
  let garbageAnswers = 0;
  const proxy = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? "");
    if (path.startsWith("/dhus/search") && path.includes(broken)) {
      garbageAnswers++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ feed: { "opensearch:totalResults": "many", entry: "garbage" } }));
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  cleanups.add(() => new Promise((resolve) => proxy.close(resolve)));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return { catalogue, mock, url, garbageAnswers: () => garbageAnswers };
}

describe("a query that fails for good", () => {
  it("ends its own iteration only: recorded on its cursor, listed and counted, the other queries' granules downloaded", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const { catalogue, url, garbageAnswers } = await hubBreakingSearchesOf("S2B", 9);

    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      from: DAY,
      to: DAY,
      retryDelayMs: 5,
      hub: { kind: "dhus", url, credentials: CREDENTIALS },
      allTiles: true,
    });
    await shareSynthesis(dataDir);

    // Terminal: asked once, never retried, and the execution goes on to the downloads and Summarize.
    expect(garbageAnswers()).toBe(1);
    expect(summary.status).toBe("SUCCEEDED");
    const failed = { day: DAY, platform: "S2B", error: "InvalidHubDataError", cause: expect.any(String) };
    expect(summary.output?.failedQueries).toEqual([expect.objectContaining(failed)]);
    expect(summary.failedQueries).toEqual([expect.objectContaining(failed)]);
    const { stores, store } = await reopen(dataDir, cleanups);
    expect((await store.getFetchProgress(DAY, "S2B"))?.failure).toMatchObject({
      error: "InvalidHubDataError",
      executionName: summary.executionName,
    });
    const records = new Map((await granulesOf(store, DAY)).map((record) => [record.granuleId, record]));
    const others = catalogue.products.filter((product) => product.platform !== "S2B");
    expect(others.length).toBeGreaterThan(0);
    for (const product of others) {
      expect(records.get(product.id)?.status, product.id).toBe("DOWNLOADED");
      expect(await objectMd5(stores, objectKeyFor(product.name))).toBe(catalogue.expectedMd5(product.id));
    }
    expect(await stores.listKeys()).toHaveLength(others.length);
  }, 90_000);
});

describe("a Lambda that Lambda ends", () => {
  it("fails its task with Lambda.Unknown and 'Task timed out after N seconds' when it outlives its timeout", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const invocations: LambdaInvocation[] = [];

    // GenerateQueries has no retrier for it: the execution fails with what AWS would report.
    const run = runLocal({
      dataDir,
      dynamo: "dynalite",
      from: DAY,
      to: DAY,
      granulesPerDay: 2,
      retryDelayMs: 5,
      lambda: {
        timeoutSeconds: { GenerateQueries: 1 },
        onInvoke: (invocation) => {
          invocations.push(invocation);
          return invocation.functionName === "GenerateQueries" ? { delayMs: 1_500 } : undefined;
        },
      },
    });

    await expect(run).rejects.toMatchObject({
      name: "Lambda.Unknown",
      message: expect.stringMatching(/Task timed out after 1\.00 seconds/),
    });
    expect(invocations.map((invocation) => [invocation.functionName, invocation.timeoutMs])).toEqual([
      ["GenerateQueries", 1_000],
    ]);
  }, 60_000);

  it("retries a Download killed mid-transfer; the retry re-claims its lease and the granule ends with one verified object", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const params = { seed: "lambda-ends-kill", granulesPerDay: 3, productSize: 1024 * KIB };
    const catalogue = buildCatalogue(params, [DAY]);
    const victim = catalogue.products[0]!;
    const downloads: string[] = [];

    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      from: DAY,
      to: DAY,
      ...params,
      allTiles: true,
      retryDelayMs: 5,
      // About 2 s per product, so the kill lands while its body streams.
      mockBandwidthBytesPerSecond: 512 * KIB,
      lambda: {
        onInvoke: ({ functionName, payload }) => {
          if (functionName !== "Download") return undefined;
          const { granuleId } = payload as { granuleId: string };
          downloads.push(granuleId);
          const first = downloads.filter((id) => id === victim.id).length === 1;
          return granuleId === victim.id && first ? { killAfterMs: 600 } : undefined;
        },
      },
    });
    await shareSynthesis(dataDir);

    // Killed once (Lambda.Unknown), invoked again by the state machine's Retry, done.
    expect(downloads.filter((id) => id === victim.id)).toHaveLength(2);
    expect(summary.run.retries).toBeGreaterThanOrEqual(1);
    expect(summary.status).toBe("SUCCEEDED");
    expect(summary.run.failed).toBe(0);
    const { stores, store } = await reopen(dataDir, cleanups);
    expect(await store.getGranule(victim.id)).toMatchObject({ status: "DOWNLOADED" });
    expect(await objectMd5(stores, objectKeyFor(victim.name))).toBe(catalogue.expectedMd5(victim.id));
    expect(await stores.listKeys()).toHaveLength(catalogue.products.length);
  }, 90_000);
});
