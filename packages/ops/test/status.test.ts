import { ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { InvalidInputError } from "@hls-s2/core/errors";
import { SlotPool } from "@hls-s2/core/store";
import { aUniqueDay } from "@hls-s2/testing/granules";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "../src/commands/status";
import { formatStatus } from "../src/format";
import {
  documentClient,
  seedGranule,
  startTable,
  storeOf,
  type TestTable,
  uniqueDay,
} from "./helpers/granules";

let stores: TestTable;

beforeAll(async () => {
  stores = await startTable();
});

afterAll(async () => {
  await stores?.close();
});

const TODAY = new Date("2025-06-01T12:00:00Z");
/**
 * The tests not about the unfinished-age count read its smallest window (2 days, not the default 14:
 * 3 statuses × 8 shards queries a day each, most of this file's time on dynalite).
 */
const AGE_WINDOW = { horizonDays: 1 };

describe("status", () => {
  it("counts each platform's granules found, filtered, recorded, by outcome, failures by name and bytes", async () => {
    const day = uniqueDay();
    await seedGranule(stores, day, "S2A", { status: "DOWNLOADED", bytes: 100 });
    await seedGranule(stores, day, "S2A", { status: "DOWNLOADED", bytes: 250 });
    await seedGranule(stores, day, "S2A", { status: "FAILED", error: "GranuleGoneError" });
    await seedGranule(stores, day, "S2A", { status: "DISCOVERED" });
    await seedGranule(stores, day, "S2B", { status: "FAILED", error: "ChecksumMismatchError" });
    await seedGranule(stores, day, "S2B", { status: "FAILED", error: "GranuleGoneError" });
    await seedGranule(stores, day, "S2B", { status: "DOWNLOADING", leaseExpired: true });
    await storeOf(stores).recordFetchProgress(day, "S2A", {
      available: 5,
      fetchedDelta: 5,
      nextOffset: 5,
      finished: true,
      filteredDelta: { tile: 1 },
    });

    const report = await status({ day }, { store: storeOf(stores), today: TODAY, ...AGE_WINDOW });

    expect(report).toMatchObject({ from: day, to: day, executions: null });
    const [dayStatus] = report.days;
    expect(dayStatus?.platforms).toMatchObject([
      {
        platform: "S2A",
        available: 5,
        searchFinished: true,
        found: 5,
        filtered: 1,
        filteredBy: { tile: 1, level: 0, age: 0 },
        recorded: 4,
        missing: 0,
        downloaded: 2,
        failed: 1,
        pending: 1,
        stuck: 0,
        failures: { GranuleGoneError: 1 },
        bytes: 350,
      },
      {
        platform: "S2B",
        found: 3,
        recorded: 3,
        filtered: 0,
        downloaded: 0,
        failed: 2,
        pending: 1,
        stuck: 1,
        failures: { ChecksumMismatchError: 1, GranuleGoneError: 1 },
        bytes: 0,
      },
    ]);
    expect(dayStatus).toMatchObject({
      found: 8,
      recorded: 7,
      filtered: 1,
      downloaded: 2,
      failed: 3,
      pending: 2,
      failures: { GranuleGoneError: 2, ChecksumMismatchError: 1 },
      bytes: 350,
    });
  });

  it("adds up every day of a window", async () => {
    const first = uniqueDay();
    const second = uniqueDay();
    await seedGranule(stores, first, "S2C", { status: "DOWNLOADED", bytes: 7 });
    await seedGranule(stores, second, "S2C", { status: "FAILED", error: "HubAuthError" });

    const report = await status(
      { from: first, to: second },
      { store: storeOf(stores), today: TODAY, ...AGE_WINDOW },
    );

    expect(report.days.map((d) => [d.day, d.found])).toEqual([
      [first, 1],
      [second, 1],
    ]);
    expect(report.totals).toMatchObject({ found: 2, downloaded: 1, failed: 1, bytes: 7 });
    expect(report.totals.failures).toEqual({ HubAuthError: 1 });
  });

  it("lists the stage's latest executions with their state", async () => {
    const sfn = mockClient(SFNClient);
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: "arn:aws:states:us-west-2:123456789012:execution:granules:daily-1",
          stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:granules",
          name: "daily-1",
          status: "FAILED",
          startDate: new Date("2025-05-31T12:00:00Z"),
          stopDate: new Date("2025-05-31T13:00:00Z"),
          redriveCount: 1,
        },
      ],
    });
    try {
      const report = await status(
        { day: uniqueDay() },
        {
          store: storeOf(stores),
          today: TODAY,
          ...AGE_WINDOW,
          sfn: {
            client: new SFNClient({ region: "us-west-2" }),
            stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:granules",
            region: "us-west-2",
          },
        },
      );
      expect(report.executions).toEqual([
        {
          executionArn: "arn:aws:states:us-west-2:123456789012:execution:granules:daily-1",
          name: "daily-1",
          status: "FAILED",
          startDate: "2025-05-31T12:00:00.000Z",
          stopDate: "2025-05-31T13:00:00.000Z",
          redriveCount: 1,
        },
      ]);
      expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toMatchObject({
        stateMachineArn: "arn:aws:states:us-west-2:123456789012:stateMachine:granules",
        maxResults: 10,
      });
    } finally {
      sfn.restore();
    }
  });

  it("rejects a day that does not exist", async () => {
    await expect(status({ day: "2024-02-30" }, { store: storeOf(stores), today: TODAY })).rejects.toThrow(
      InvalidInputError,
    );
  });

  it("counts the window's granules waiting for a download apart from those downloading now", async () => {
    const day = uniqueDay();
    await seedGranule(stores, day, "S2A", { status: "DISCOVERED" });
    await seedGranule(stores, day, "S2B", { status: "DISCOVERED" });
    await seedGranule(stores, day, "S2B", { status: "DOWNLOADING", leaseExpired: true });
    await seedGranule(stores, day, "S2C", { status: "DOWNLOADING", leaseExpired: false });
    await seedGranule(stores, day, "S2C", { status: "DOWNLOADED", bytes: 5 });
    await seedGranule(stores, day, "S2C", { status: "FAILED", error: "GranuleGoneError" });

    const report = await status({ day }, { store: storeOf(stores), today: TODAY, ...AGE_WINDOW });

    expect(report.waiting).toEqual({ discovered: 2, stuck: 1, total: 3, downloading: 1 });
    expect(report.slots).toBeUndefined();
    expect(formatStatus(report, "test")).toContain(
      "Waiting for a download: 3 granule(s) (DISCOVERED 2, stuck DOWNLOADING 1); downloading now: 1",
    );
  });

  it("shows the hub slots in use of the stage's quota beside the waiting granules", async () => {
    const day = uniqueDay();
    await seedGranule(stores, day, "S2A", { status: "DISCOVERED" });
    const pool = new SlotPool(documentClient(stores), { tableName: stores.tableName, defaultSlots: 4 });
    const lease = await pool.acquire("exec-status", { granuleId: "g-status" });
    try {
      const report = await status(
        { day },
        { store: storeOf(stores), slots: pool, today: TODAY, ...AGE_WINDOW },
      );

      expect(report.slots).toMatchObject({ slots: 4, setAtRuntime: false });
      expect(report.slots?.held).toEqual([lease]);
      expect(report.waiting).toMatchObject({ discovered: 1, total: 1 });
      const text = formatStatus(report, "test");
      expect(text).toContain("Waiting for a download: 1 granule(s) (DISCOVERED 1, stuck DOWNLOADING 0)");
      expect(text).toContain("1 hub slot(s) held across every execution");
      expect(text).toContain("Hub slots: 1 of 4 in use — the deploy setting HUB_DOWNLOAD_SLOTS");
      expect(text).toMatch(/slot \d: g-status held by exec-status until /);
    } finally {
      await pool.release(lease);
    }
  });

  it("shows the unfinished granules of recent days by age, the age alarm's figures, whatever the window", async () => {
    // A day of its own far from the other tests', and a clock three days after it.
    const old = aUniqueDay("2035-01-01");
    const now = new Date(Date.parse(`${old}T12:00:00.000Z`) + 3 * 86_400_000);
    await seedGranule(stores, old, "S2A", { status: "DISCOVERED" });
    await seedGranule(stores, old, "S2A", { status: "FAILED", error: "GranuleGoneError" });
    const waiting = await seedGranule(stores, old, "S2B", { status: "FAILED", error: "HubUnavailableError" });

    const report = await status({ day: uniqueDay() }, { store: storeOf(stores), today: TODAY, now });

    expect(report.unfinishedAge).toMatchObject({
      unfinished: 2,
      olderThanThreshold: 2,
      thresholdHours: 48,
      oldestAgeSeconds: 72 * 3600,
    });
    expect([report.unfinishedAge.oldest?.granuleId]).not.toContain(undefined);
    expect(waiting.status).toBe("FAILED");
    expect(formatStatus(report, "test")).toContain(
      "2 granule(s), 2 older than 48 h (the age alarm fires above 0)",
    );
  });
});
