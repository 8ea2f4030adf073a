import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createGranuleTable, documentClientOf, startLocalDynamo } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { type LossyProxy, startLossyProxy } from "@hls-s2/testing/lossy-proxy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GranuleStore } from "../../../src/adapters/store/store";
import { fetchPage } from "../../../src/usecases/fetch-page";
import { pagedHub } from "../../helpers/use-case-fakes";

// Writes applied by DynamoDB whose answers are lost: the proxy resets the connection after the table
// applied the request, and the SDK retries it. Every counter must still count once.

const TABLE = "lost-response-test";
let proxy: LossyProxy;
let store: GranuleStore;
let close: () => Promise<void>;

beforeAll(async () => {
  const dynamo = await startLocalDynamo();
  await createGranuleTable(dynamo.client, TABLE);
  proxy = await startLossyProxy(dynamo.endpoint);
  const client = new DynamoDBClient({
    endpoint: proxy.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 3,
  });
  store = new GranuleStore(documentClientOf(client), { tableName: TABLE });
  close = async () => {
    client.destroy();
    await proxy.close();
    await dynamo.close();
  };
});
afterAll(() => close());

const updateOf = (attribute: string) => (request: { operation: string; body: string }) =>
  request.operation === "UpdateItem" && request.body.includes(attribute);

describe("a write applied and its answer lost", () => {
  it("counts a pushed granule once when the SDK retries its counter ADD", async () => {
    const day = aUniqueDay();
    const granule = aDiscoveredGranule({ platform: "S2A" });
    proxy.loseNext(updateOf('"recorded"'));

    await expect(store.recordDiscovered(granule, day)).resolves.toEqual({ recorded: true });

    expect(proxy.lost).toHaveLength(1);
    const read = await store.listPendingReconciled(day);
    expect(read).toMatchObject({ indexed: 1, recorded: 1 });
  });

  it("records and counts a granule once when the SDK retries its put", async () => {
    const day = aUniqueDay();
    const granule = aDiscoveredGranule({ platform: "S2B" });
    const lostBefore = proxy.lost.length;
    proxy.loseNext((request) => request.operation === "PutItem" && request.body.includes(granule.granuleId));

    await expect(store.recordDiscovered(granule, day)).resolves.toEqual({ recorded: true });

    expect(proxy.lost.length).toBe(lostBefore + 1);
    expect(await store.listPendingReconciled(day)).toMatchObject({ indexed: 1, recorded: 1 });
  });

  it("counts a search page once when the SDK retries its cursor write", async () => {
    const query = { day: aUniqueDay(), platform: "S2B" } as const;
    const entries = Array.from({ length: 3 }, () => aDiscoveredGranule({ platform: "S2B" }));
    const lostBefore = proxy.lost.length;
    proxy.loseNext(updateOf('"nextOffset"'));

    const result = await fetchPage(
      query,
      { hub: pagedHub(entries, 10).hub, store },
      { deadline: Date.now() + 60_000 },
    );

    expect(proxy.lost.length).toBe(lostBefore + 1);
    expect(result).toMatchObject({ finished: true, fetched: 3, recorded: 3 });
    expect(await store.getFetchProgress(query.day, query.platform)).toMatchObject({
      fetched: 3,
      recorded: 3,
    });
    expect(await store.listPendingReconciled(query.day)).toMatchObject({ indexed: 3, recorded: 3 });
  });
});
