/**
 * Benchmark: one CDSE day of 13,000 granules on one platform (past the 10,000 `$skip` cap, so the
 * hub client must split the day) fetched by `fetchPage` into the granule table on dynalite.
 * Reports wall time, hub requests, and checks every granule is in the table exactly once. The
 * mock hub runs in a child process (a real hub is another machine); dynalite is timed alone doing the
 * same conditional puts, to show how much of the wall time the stand-in takes.
 *
 *   npx tsx bench/links.ts [--granules 13000]
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { CdseHub } from "@hls-s2/core/hub";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import { fetchPage } from "@hls-s2/core/usecases";
import { startEmbeddedStores } from "@hls-s2/local";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";
import { discoveredGranuleOf } from "@hls-s2/testing/granules";
import { Child, type Row, seconds, serveParent } from "./lib";

const DAY = "2026-11-24";
const CREDENTIALS = { username: "bench", password: "bench" };
const TOKEN_PATH = "/auth/realms/CDSE/protocol/openid-connect/token";
export const LINKS_GOAL_SECONDS = 5;

export interface LinksResult {
  granules: number;
  wallSeconds: number;
  /** Catalogue (search and count) requests and token requests the hub served. */
  requests: { products: number; token: number; total: number };
  pages: number;
  recorded: number;
  /** Items in the table after the fetch, and distinct catalogue ids among them. */
  tableItems: number;
  distinctPresent: number;
  exactlyOnce: boolean;
  /** The same number of conditional puts into dynalite alone, sequential as fetchPage issues them. */
  dynaliteAloneSeconds: number;
  /** Paging the same search with a fresh hub client, recording nothing. */
  hubAloneSeconds: number;
}

function catalogueFor(granules: number) {
  // Small products: the mock hashes every product it lists (for Checksum[]); CDSE has them precomputed.
  return createCatalogue({
    seed: "bench-links",
    days: [DAY],
    platforms: ["S2A"],
    granulesPerDay: granules,
    sizeBytes: 16 * 1024,
  });
}

async function hubChild(granules: number): Promise<void> {
  const hub = await startMockHub({ catalogue: catalogueFor(granules), credentials: CREDENTIALS });
  serveParent(
    async (request) => {
      if (request["op"] === "url") return hub.url;
      if (request["op"] === "stats") return hub.stats.toJSON().routes;
      throw new Error(`unknown op ${String(request["op"])}`);
    },
    () => hub.close(),
  );
}

/** Runs the link-fetch benchmark once and checks the table. */
export async function benchLinks(options: { granules?: number } = {}): Promise<LinksResult> {
  const granules = options.granules ?? 13_000;
  const child = new Child(fileURLToPath(import.meta.url), ["--child", "--granules", String(granules)]);
  const stores = await startEmbeddedStores();
  try {
    const url = await child.call<string>({ op: "url" });
    const documents = createDocumentClient(stores.dynamo);
    const store = new GranuleStore(documents, { tableName: stores.tableName });
    const hub = cdseClient(url);

    const began = process.hrtime.bigint();
    let pages = 0;
    let recorded = 0;
    // One FetchPage invocation pages until done within its budget; loop as the state machine would.
    for (;;) {
      const result = await fetchPage(
        { day: DAY, platform: "S2A" },
        { hub, store },
        { deadline: Date.now() + 600_000 },
      );
      pages += result.pages;
      recorded += result.recorded;
      if (result.finished) break;
    }
    const wallSeconds = seconds(began);
    const routes = await child.call<Record<string, number>>({ op: "stats" });

    const ids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(
        new ScanCommand({ TableName: stores.tableName, ExclusiveStartKey: startKey }),
      );
      for (const item of page.Items ?? [])
        if (typeof item["granuleId"] === "string") ids.push(item["granuleId"]);
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    const expected = new Set(catalogueFor(granules).products.map((product) => product.id));
    const distinctPresent = new Set(ids.filter((id) => expected.has(id))).size;

    const dynaliteAloneSeconds = await timeDynaliteAlone(granules);
    const hubAloneSeconds = await timeHubAlone(url);
    return {
      granules,
      wallSeconds,
      requests: {
        products: routes["cdse.products"] ?? 0,
        token: routes["cdse.token"] ?? 0,
        total: Object.values(routes).reduce((sum, n) => sum + n, 0),
      },
      pages,
      recorded,
      tableItems: ids.length,
      distinctPresent,
      exactlyOnce: ids.length === granules && distinctPresent === granules && recorded === granules,
      dynaliteAloneSeconds,
      hubAloneSeconds,
    };
  } finally {
    await stores.close();
    await child.stop();
  }
}

/** A fresh CDSE client of the mock hub (a fresh one plans its query windows again). */
function cdseClient(url: string): CdseHub {
  return new CdseHub({
    catalogueUrl: url,
    downloadUrl: url,
    credentials: CREDENTIALS,
    tokenUrl: `${url}${TOKEN_PATH}`,
    filterRules: { maxAcquisitionAgeDays: 30 },
  });
}

/** The hub side alone: a fresh client (so it plans its windows again) pages the whole query. */
async function timeHubAlone(url: string): Promise<number> {
  const hub = cdseClient(url);
  const began = process.hrtime.bigint();
  let offset: number | undefined = 0;
  while (offset !== undefined) {
    offset = (await hub.listSearchPage({ day: DAY, platform: "S2A" }, offset)).nextOffset;
  }
  return seconds(began);
}

/** The stand-in alone: the same granules' conditional puts into a fresh dynalite, one at a time. */
async function timeDynaliteAlone(granules: number): Promise<number> {
  const stores = await startEmbeddedStores();
  try {
    const documents = createDocumentClient(stores.dynamo);
    const store = new GranuleStore(documents, { tableName: stores.tableName });
    const products = catalogueFor(granules).products;
    const began = process.hrtime.bigint();
    for (const product of products) {
      await store.recordDiscovered(discoveredGranuleOf(product), DAY);
    }
    return seconds(began);
  } finally {
    await stores.close();
  }
}

export function linksRows(result: LinksResult): Row[] {
  const name = "links";
  const what = `CDSE day, ${result.granules} granules`;
  return [
    {
      benchmark: name,
      case: what,
      metric: "wall time",
      value: `${result.wallSeconds.toFixed(2)} s`,
      goal: `≤ ${LINKS_GOAL_SECONDS} s`,
      met: result.wallSeconds <= LINKS_GOAL_SECONDS,
    },
    {
      benchmark: name,
      case: what,
      metric: "hub requests",
      value: `${result.requests.total} (${result.requests.products} catalogue, ${result.requests.token} token), ${result.pages} pages`,
    },
    {
      benchmark: name,
      case: what,
      metric: "in table exactly once",
      value: `${result.distinctPresent}/${result.granules} present, ${result.tableItems} items, ${result.recorded} recorded`,
      goal: "all, once",
      met: result.exactlyOnce,
    },
    {
      benchmark: name,
      case: "hub alone",
      metric: "paging, no recording",
      value: `${result.hubAloneSeconds.toFixed(2)} s (${((result.hubAloneSeconds / result.wallSeconds) * 100).toFixed(0)}% of wall)`,
    },
    {
      benchmark: name,
      case: "stand-in alone",
      metric: "dynalite, same puts",
      value: `${result.dynaliteAloneSeconds.toFixed(2)} s (${((result.dynaliteAloneSeconds / result.wallSeconds) * 100).toFixed(0)}% of wall)`,
    },
  ];
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  const { values } = parseArgs({
    options: { child: { type: "boolean", default: false }, granules: { type: "string", default: "13000" } },
  });
  if (values.child) await hubChild(Number(values.granules));
  else {
    const result = await benchLinks({ granules: Number(values.granules) });
    console.log(JSON.stringify(result, null, 2));
  }
}
