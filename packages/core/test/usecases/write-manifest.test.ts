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
    // The reconciliation horizon's days (recent ones) hold nothing here.
    async listPending() {
      return [];
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

    expect(result).toEqual({
      bucket: "work-bucket",
      key: "manifests/daily-2024-01-04.json",
      count: 2,
      reconciled: 0,
    });
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
      async listPending() {
        return [];
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

  it("takes the unfinished granules of the reconciliation horizon's days besides its own window", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    // A clock of its own, so the horizon's days hold only this test's granules.
    const now = new Date(Date.parse(`${aUniqueDay("2040-01-01")}T15:00:00Z`));
    const store = new GranuleStore(dynamo.documentClient, {
      tableName: TABLE,
      leaseMs: 60_000,
      now: () => now,
    });
    const day = (back: number) => new Date(now.getTime() - back * 86_400_000).toISOString().slice(0, 10);
    const windowDay = day(1);
    const inWindow = aDiscoveredGranule();
    await store.recordDiscovered(inWindow, windowDay);
    // Two days before the window: one never started, one a killed run left DOWNLOADING, one that
    // failed with attempts left, one downloaded, and one beyond the 7-day horizon.
    const discovered = aDiscoveredGranule();
    const killed = aDiscoveredGranule();
    const failed = aDiscoveredGranule();
    const downloaded = aDiscoveredGranule();
    const beyond = aDiscoveredGranule();
    for (const granule of [discovered, killed, failed, downloaded])
      await store.recordDiscovered(granule, day(3));
    await store.recordDiscovered(beyond, day(7));
    const past = new GranuleStore(dynamo.documentClient, {
      tableName: TABLE,
      leaseMs: 60_000,
      now: () => new Date(now.getTime() - 3_600_000),
    });
    await past.claimGranule(killed.granuleId, "killed-run:child");
    await store.claimGranule(failed.granuleId, "earlier-run:child");
    await store.markFailed(
      failed.granuleId,
      { name: "HubUnavailableError", message: "503" },
      { owner: "earlier-run:child" },
    );
    await store.claimGranule(downloaded.granuleId, "earlier-run:child");
    await store.markDownloaded(downloaded.granuleId, "earlier-run:child", { s3Key: "k", bytesWritten: 1 });

    const result = await writeManifest(
      { from: windowDay, to: windowDay, executionName: "next-day" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
      { horizonDays: 7, now: () => now },
    );

    const items = JSON.parse(String(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input.Body)) as {
      granuleId: string;
      day: string;
    }[];
    expect(items.map((item) => item.granuleId).sort()).toEqual(
      [inWindow.granuleId, discovered.granuleId, killed.granuleId, failed.granuleId].sort(),
    );
    expect(items.find((item) => item.granuleId === killed.granuleId)?.day).toBe(day(3));
    expect(result).toMatchObject({ count: 4, reconciled: 3 });
  });
});

describe("writeManifest of a pushed-granules run (recordedSince)", () => {
  it("lists only the window's DISCOVERED granules recorded at or after recordedSince, and no horizon day", async () => {
    // Prepare
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const day = aUniqueDay();
    let clock = new Date("2030-06-01T10:00:00.000Z");
    const store = new GranuleStore(dynamo.documentClient, { tableName: TABLE, now: () => clock });
    const earlier = aDiscoveredGranule();
    const failed = aDiscoveredGranule();
    await store.recordDiscovered(earlier, day);
    await store.recordDiscovered(failed, day);
    clock = new Date("2030-06-01T10:05:00.000Z");
    const later = aDiscoveredGranule();
    await store.recordDiscovered(later, day);
    let horizonAsked = false;
    const deps = {
      store: {
        listByStatus: store.listByStatus.bind(store),
        listPendingReconciled: store.listPendingReconciled.bind(store),
        recountDay: store.recountDay.bind(store),
        listPending: (...args: Parameters<GranuleStore["listPending"]>) => {
          horizonAsked = true;
          return store.listPending(...args);
        },
      },
      s3: new S3Client({}),
      bucket: "work-bucket",
    };

    // Act
    const result = await writeManifest(
      {
        from: day,
        to: day,
        executionName: "pushed-20300601T1006Z",
        recordedSince: "2030-06-01T10:04:30.000Z",
      },
      deps,
      { now: () => clock, horizonDays: 3 },
    );

    // Assess
    expect(result).toMatchObject({ count: 1, reconciled: 0 });
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(JSON.parse(put.Body as string)).toEqual([{ granuleId: later.granuleId, name: later.name, day }]);
    expect(horizonAsked).toBe(false);
  });
});

describe("writeManifest of a pushed-granules run: leases that expired", () => {
  it("lists the window's DOWNLOADING granules whose lease expired since recordedSince, not a live one nor one expired before", async () => {
    // Prepare
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const day = aUniqueDay();
    const store = new GranuleStore(dynamo.documentClient, { tableName: TABLE });
    const since = Date.parse("2030-06-01T10:04:30.000Z");
    const now = new Date("2030-06-01T10:07:00.000Z");
    const leased = async (leaseExpiresAt: number) => {
      const granule = aDiscoveredGranule();
      await store.recordDiscovered(granule, day);
      await store.claimGranule(granule.granuleId, `owner-${granule.granuleId}`);
      await dynamo.documentClient.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: { pk: `granule#${granule.granuleId}` },
          UpdateExpression: "SET leaseExpiresAt = :at, createdAt = :created",
          ExpressionAttributeValues: { ":at": leaseExpiresAt, ":created": "2030-06-01T09:00:00.000Z" },
        }),
      );
      return granule.granuleId;
    };
    const expiredSince = await leased(since + 60_000);
    await leased(since - 1); // the run before this one listed it
    await leased(now.getTime() + 60_000); // its worker renews it

    // Act
    const result = await writeManifest(
      {
        from: day,
        to: day,
        executionName: "pushed-20300601T1007Z",
        recordedSince: new Date(since).toISOString(),
      },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
      { now: () => now },
    );

    // Assess
    expect(result).toMatchObject({ count: 1 });
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect((JSON.parse(put.Body as string) as { granuleId: string }[]).map((item) => item.granuleId)).toEqual(
      [expiredSince],
    );
  });
});
