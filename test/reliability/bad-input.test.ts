import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { objectKeyFor } from "@hls-s2/core/domain";
import { runLocal } from "@hls-s2/local";
import { createCatalogue, type MockProduct, startMockHub } from "@hls-s2/mock-hub";
import {
  granulesOf,
  incompleteUploads,
  objectMd5,
  reopen,
  SHORT_HORIZON_ENV,
  tempDataDir,
  useCleanups,
} from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { KIB, shareSynthesis, useSharedSynthesis } from "./helpers";

const DAY = "2026-03-18";
const CREDENTIALS = { username: "bad-input", password: "bad-input-test" };
const cleanups = useCleanups();

type Entry = { id: string; title: string; str: { name: string; content: string }[] };

interface Tampering {
  /** Rewrites a search entry of this product id. */
  entries?: Record<string, (entry: Entry) => void>;
  /** Replaces the MD5 the checksum route answers for this product id. */
  checksums?: Record<string, string>;
}

/**
 * A hub that lies: the mock hub behind a loopback proxy that rewrites chosen search entries and
 * checksums (the mock itself only serves well-formed products) and passes every other byte through.
 */
async function lyingHub(products: number, tamper: (products: readonly MockProduct[]) => Tampering) {
  const catalogue = createCatalogue({
    seed: "bad-input",
    days: [DAY],
    platforms: ["S2A", "S2B", "S2C"],
    granulesPerDay: products,
    sizeBytes: 200 * KIB,
  });
  const mock = await startMockHub({ catalogue, port: 0, host: "127.0.0.1", credentials: CREDENTIALS });
  cleanups.add(() => mock.close());
  const tampering = tamper(catalogue.products);
  const upstream = new URL(mock.url);
  const proxy = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? "");
    const checksumOf = /Products\('([^']+)'\)\/\?.*Checksum/.exec(path)?.[1];
    const rewrites = path.startsWith("/dhus/search") || checksumOf !== undefined;
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        if (!rewrites || answer.statusCode !== 200) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const raw = Buffer.concat(chunks);
          let body: { d: { Checksum: { Value: string } }; feed: { entry?: Entry | Entry[] } };
          try {
            body = JSON.parse(raw.toString("utf8"));
          } catch {
            // A page the mock cut short on purpose passes through as it is.
            res.writeHead(200, answer.headers);
            res.end(raw);
            return;
          }
          try {
            if (checksumOf !== undefined) {
              const md5 = tampering.checksums?.[checksumOf];
              if (md5 !== undefined) body.d.Checksum.Value = md5;
            } else {
              const entries = body.feed.entry === undefined ? [] : [body.feed.entry].flat();
              for (const entry of entries as Entry[]) tampering.entries?.[entry.id]?.(entry);
            }
          } catch {
            // Leave the body as the mock sent it.
          }
          const text = JSON.stringify(body);
          const { "content-length": _, "transfer-encoding": __, ...headers } = answer.headers;
          res.writeHead(200, { ...headers, "content-length": Buffer.byteLength(text) });
          res.end(text);
        });
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  cleanups.add(() => new Promise((resolve) => proxy.close(resolve)));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return { catalogue, mock, url };
}

function setStr(entry: Entry, name: string, content: string): void {
  const field = entry.str.find((item) => item.name === name);
  if (field !== undefined) field.content = content;
}

describe("bad hub data end to end", () => {
  it("rejects unsafe names and absurd sizes at the search and bad checksums at the download; the rest of the day downloads", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    let traversal = "";
    let absurd = "";
    let missing = "";
    let nonHex = "";
    let shortMd5 = "";
    const { catalogue, mock, url } = await lyingHub(10, (products) => {
      [traversal, absurd, missing, nonHex, shortMd5] = products.map((product) => product.id) as [
        string,
        string,
        string,
        string,
        string,
      ];
      return {
        entries: {
          [traversal]: (entry) => {
            entry.title = `../../${entry.title}`;
            setStr(entry, "filename", `../../${entry.title}.SAFE`);
            setStr(entry, "identifier", entry.title);
          },
          [absurd]: (entry) => setStr(entry, "size", "9999999.00 TB"),
          [missing]: (entry) => {
            entry.str = entry.str.filter((item) => item.name !== "filename" && item.name !== "tileid");
          },
        },
        checksums: { [nonHex]: "ZZ".repeat(16), [shortMd5]: "ABCDEF0123" },
      };
    });

    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      retryDelayMs: 5,
      hub: { kind: "dhus", url, credentials: CREDENTIALS },
      // Every catalogue product counts here; the HLS tile filter is test/e2e/hls-tiles.test.ts's.
      allTiles: true,
    });
    await shareSynthesis(dataDir);

    const { stores, store } = await reopen(dataDir, cleanups);
    const records = new Map((await granulesOf(store, DAY)).map((record) => [record.granuleId, record]));
    // Refused at the boundary: never recorded, never asked for.
    for (const id of [traversal, absurd, missing]) {
      expect(records.has(id), id).toBe(false);
      expect(mock.stats.granule(id).valueGets).toBe(0);
    }
    // Recorded, then refused when the hub's checksum is not an MD5: FAILED, no byte downloaded.
    for (const id of [nonHex, shortMd5]) {
      expect(records.get(id)).toMatchObject({ status: "FAILED", lastError: { name: "InvalidHubDataError" } });
      expect(mock.stats.granule(id).valueGets).toBe(0);
    }
    const healthy = catalogue.products.filter(
      (product) => ![traversal, absurd, missing, nonHex, shortMd5].includes(product.id),
    );
    for (const product of healthy) {
      expect(records.get(product.id)?.status).toBe("DOWNLOADED");
      expect(await objectMd5(stores, objectKeyFor(product.name))).toBe(catalogue.expectedMd5(product.id));
    }
    expect((await stores.listKeys()).every((key) => !key.includes(".."))).toBe(true);
    expect(await stores.listKeys()).toHaveLength(healthy.length);
    expect(await incompleteUploads(stores)).toEqual([]);
    expect(summary.totals).toMatchObject({
      downloaded: healthy.length,
      failed: 2,
      failures: { InvalidHubDataError: 2 },
    });
  }, 60_000);

  it("retries a search page cut short and still downloads the whole day in one run", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    const { catalogue, mock, url } = await lyingHub(6, () => ({}));
    mock.setFaults({ search: [{ kind: "malformedPage", times: 1 }] });

    // A truncated answer is never parsed into granules: it is a transient HubUnavailableError,
    // asked again, and the whole page then arrives.
    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      retryDelayMs: 5,
      hub: { kind: "dhus", url, credentials: CREDENTIALS },
      // Every catalogue product counts here; the HLS tile filter is test/e2e/hls-tiles.test.ts's.
      allTiles: true,
    });

    expect(mock.stats.faultsInjected().malformedPage).toBe(1);
    expect(summary.totals).toMatchObject({ found: 6, downloaded: 6, failed: 0 });
    const { stores } = await reopen(dataDir, cleanups);
    expect(await stores.listKeys()).toHaveLength(catalogue.products.length);
    expect(await incompleteUploads(stores)).toEqual([]);
  }, 60_000);

  it("refuses a backfill longer than 31 days with InvalidInputError before anything is written", async () => {
    const dataDir = await tempDataDir(cleanups);
    await useSharedSynthesis(dataDir);
    let hubRequests = -1;

    const run = runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: "2026-01-01",
      to: "2026-03-01",
      granulesPerDay: 2,
      retryDelayMs: 5,
      onMockHub: (hub) => {
        cleanups.add(async () => {
          hubRequests = hub.stats.route("dhus.search") + hub.stats.route("dhus.value");
        });
      },
    });

    await expect(run).rejects.toMatchObject({ name: "InvalidInputError" });
    const { stores, store } = await reopen(dataDir, cleanups);
    expect(await granulesOf(store, "2026-01-01")).toEqual([]);
    expect(await stores.listKeys()).toEqual([]);
    expect(await stores.listKeys(stores.workBucketName)).toEqual([]);
    expect(hubRequests).toBe(-1);
  }, 60_000);
});
