import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { GranuleRecord } from "@hls-s2/core/domain";
import { mockClient } from "aws-sdk-client-mock";
import "aws-sdk-client-mock-vitest/extend";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { requeue } from "../src/commands/requeue";
import { sfnLauncher } from "../src/executions";
import { executionArn, STATE_MACHINE_ARN, sfnTarget } from "./helpers/aws";
import { seedGranule, startTable, storeOf, type TestTable, uniqueDay } from "./helpers/granules";

const sfn = mockClient(SFNClient);
let table: TestTable;

beforeAll(async () => {
  table = await startTable();
});

afterAll(async () => {
  await table?.close();
});

beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: executionArn(input.name),
    startDate: new Date(),
  }));
});

/** One granule in every state the requeue must tell apart. */
async function seedDay(day: string) {
  return {
    failed: await seedGranule(table, day, "S2A", { status: "FAILED", error: "HubUnavailableError" }),
    failedToo: await seedGranule(table, day, "S2B", { status: "FAILED", error: "GranuleGoneError" }),
    stuck: await seedGranule(table, day, "S2A", { status: "DOWNLOADING", leaseExpired: true }),
    working: await seedGranule(table, day, "S2B", { status: "DOWNLOADING", leaseExpired: false }),
    downloaded: await seedGranule(table, day, "S2C", { status: "DOWNLOADED", bytes: 10 }),
    discovered: await seedGranule(table, day, "S2C", { status: "DISCOVERED" }),
  };
}

async function reread(granules: Record<string, GranuleRecord>) {
  const store = storeOf(table);
  const entries = await Promise.all(
    Object.entries(granules).map(async ([key, g]) => [key, await store.getGranule(g.granuleId)] as const),
  );
  return Object.fromEntries(entries);
}

describe("requeue --dry-run", () => {
  it("lists the FAILED and the expired DOWNLOADING granules and changes nothing", async () => {
    const day = uniqueDay();
    const seeded = await seedDay(day);
    const before = await reread(seeded);

    const result = await requeue({ day, dryRun: true }, { store: storeOf(table) });

    expect(result.candidates.map((c) => c.granuleId).sort()).toEqual(
      [seeded.failed.granuleId, seeded.failedToo.granuleId, seeded.stuck.granuleId].sort(),
    );
    expect(result.candidates.find((c) => c.granuleId === seeded.failed.granuleId)).toMatchObject({
      status: "FAILED",
      lastError: { name: "HubUnavailableError" },
    });
    expect(result.requeued).toEqual([]);
    expect(await reread(seeded)).toEqual(before);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});

describe("requeue", () => {
  it("moves FAILED and stuck granules to DISCOVERED and starts one download-only execution for the day", async () => {
    const day = uniqueDay();
    const seeded = await seedDay(day);

    const result = await requeue({ day }, { store: storeOf(table), launch: sfnLauncher(sfnTarget()) });

    const after = await reread(seeded);
    expect(after.failed).toMatchObject({ status: "DISCOVERED", attempts: 0 });
    expect(after.failedToo).toMatchObject({ status: "DISCOVERED", attempts: 0 });
    expect(after.stuck).toMatchObject({ status: "DISCOVERED", attempts: 0 });
    expect(after.stuck?.leaseOwner).toBeUndefined();
    // A live lease belongs to a worker that is still downloading.
    expect(after.working).toMatchObject({ status: "DOWNLOADING", leaseOwner: seeded.working.leaseOwner });
    expect(after.downloaded?.status).toBe("DOWNLOADED");
    expect(after.discovered?.status).toBe("DISCOVERED");
    expect(result.requeued).toHaveLength(3);
    expect(sfn).toHaveReceivedCommandExactlyOnceWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      input: JSON.stringify({ from: day, to: day, downloadOnly: true }),
    });
    expect(result.execution).toMatchObject({
      mode: "aws",
      consoleUrl: expect.stringContaining("#/v2/executions/details/"),
    });
  });

  it("starts no execution when the day has nothing to requeue", async () => {
    const day = uniqueDay();
    await seedGranule(table, day, "S2A", { status: "DOWNLOADED", bytes: 1 });

    const result = await requeue({ day }, { store: storeOf(table), launch: sfnLauncher(sfnTarget()) });

    expect(result).toMatchObject({ candidates: [], requeued: [] });
    expect(result.execution).toBeUndefined();
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it("rejects a day that is not YYYY-MM-DD, naming --day", async () => {
    await expect(requeue({ day: "2025-6-1", dryRun: true }, { store: storeOf(table) })).rejects.toMatchObject(
      {
        name: "InvalidInputError",
        field: "day",
      },
    );
  });
});
