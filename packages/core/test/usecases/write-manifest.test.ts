import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { GranuleStore } from "../../src/adapters/store/store";
import { InvalidInputError } from "../../src/domain/errors";
import type { GranuleRecord } from "../../src/domain/granule";
import { type ManifestDeps, writeManifest } from "../../src/usecases/write-manifest";
import { makeRecord } from "../helpers/use-case-fakes";

function storeWith(byDay: Record<string, GranuleRecord[]>) {
  const asked: string[] = [];
  const store = {
    async listPendingReconciled(day: string) {
      asked.push(day);
      const granules = byDay[day] ?? [];
      return { granules, indexed: granules.length, recorded: granules.length };
    },
  } as unknown as ManifestDeps["store"];
  return { store, asked };
}

const TABLE = "manifest-test";
const dynamo = useGranuleTable(TABLE);

describe("writeManifest", () => {
  it("writes the pending granules of every day of the window as a JSON array", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const first = makeRecord({ day: "2024-01-01" });
    const second = makeRecord({ day: "2024-01-02", status: "FAILED", attempts: 1 });
    const { store, asked } = storeWith({ "2024-01-01": [first], "2024-01-02": [second] });

    const result = await writeManifest(
      { from: "2024-01-01", to: "2024-01-03", executionName: "daily-2024-01-04" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
    );

    expect(result).toEqual({ bucket: "work-bucket", key: "manifests/daily-2024-01-04.json", count: 2 });
    expect(asked).toEqual(["2024-01-01", "2024-01-02", "2024-01-03"]);
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({
      Bucket: "work-bucket",
      Key: "manifests/daily-2024-01-04.json",
      ContentType: "application/json",
    });
    expect(JSON.parse(put.Body as string)).toEqual([
      { granuleId: first.granuleId, name: first.name, day: "2024-01-01" },
      { granuleId: second.granuleId, name: second.name, day: "2024-01-02" },
    ]);
  });

  it("writes an empty array when nothing is pending", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const { store } = storeWith({});

    const result = await writeManifest(
      { from: "2024-01-01", to: "2024-01-01", executionName: "empty-run" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
    );

    expect(result.count).toBe(0);
    expect(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input.Body).toBe("[]");
  });

  it("rejects an execution name that would escape the manifests prefix", async () => {
    const s3Mock = mockClient(S3Client);
    const { store } = storeWith({});

    await expect(
      writeManifest(
        { from: "2024-01-01", to: "2024-01-01", executionName: "../results/x" },
        { store, s3: new S3Client({}), bucket: "work-bucket" },
      ),
    ).rejects.toThrow(InvalidInputError);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("lists what the index holds, reports the day and recounts it when the index keeps showing fewer granules than were recorded", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const store = new GranuleStore(dynamo.documentClient, { tableName: TABLE });
    const day = aUniqueDay();
    const kept = aDiscoveredGranule({ platform: "S2A" });
    const lost = aDiscoveredGranule({ platform: "S2A" });
    await store.recordDiscovered(kept, day);
    await store.recordDiscovered(lost, day);
    // Behind the store's back: the item stays, its index attributes go, so no index query returns it.
    await dynamo.documentClient.send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: `granule#${lost.granuleId}`, granuleId: lost.granuleId, name: lost.name, day },
      }),
    );
    const sleeps: number[] = [];

    const result = await writeManifest(
      { from: day, to: day, executionName: "lost-entry" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
      { reconcileAttempts: 3, reconcileDelayMs: 7, sleep: async (ms) => void sleeps.push(ms) },
    );

    // It waited for index propagation first, then listed the day's granules instead of withholding them.
    expect(sleeps).toEqual([7, 7]);
    expect(result).toMatchObject({ count: 1, recounted: [{ day, recorded: 2, indexed: 1 }] });
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(JSON.parse(put.Body as string)).toEqual([{ granuleId: kept.granuleId, name: kept.name, day }]);
    // The counter now agrees with the index, so the next run does not report the day again.
    expect((await store.getFetchProgress(day, "S2A"))?.recorded).toBe(1);
  });

  it("never withholds a day whose counter was applied twice (an ADD retried after its answer was lost)", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const store = new GranuleStore(dynamo.documentClient, { tableName: TABLE });
    const day = aUniqueDay();
    const granule = aDiscoveredGranule({ platform: "S2B" });
    await store.recordDiscovered(granule, day);
    // What today's release left behind: the count of one granule ADDed a second time.
    await dynamo.documentClient.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: `fetch#${day}#S2B` },
        UpdateExpression: "ADD #recorded :one",
        ExpressionAttributeNames: { "#recorded": "recorded" },
        ExpressionAttributeValues: { ":one": 1 },
      }),
    );

    const result = await writeManifest(
      { from: day, to: day, executionName: "over-count" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
      { reconcileAttempts: 2, sleep: async () => undefined },
    );

    expect(result).toMatchObject({ count: 1, recounted: [{ day, recorded: 2, indexed: 1 }] });
    expect((await store.getFetchProgress(day, "S2B"))?.recorded).toBe(1);
  });

  it("lists a day whose index catches up while it waits", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const granule = makeRecord({ day: "2024-01-01" });
    let reads = 0;
    const store = {
      async listPendingReconciled() {
        reads += 1;
        // The first read misses a granule recorded a moment ago (GSI reads are eventually consistent).
        return reads === 1
          ? { granules: [], indexed: 0, recorded: 1 }
          : { granules: [granule], indexed: 1, recorded: 1 };
      },
    } as unknown as ManifestDeps["store"];

    const result = await writeManifest(
      { from: "2024-01-01", to: "2024-01-01", executionName: "catching-up" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
      { sleep: async () => undefined },
    );

    expect(result.count).toBe(1);
    expect(reads).toBe(2);
  });
});
