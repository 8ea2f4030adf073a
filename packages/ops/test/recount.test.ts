import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { startEmbeddedStores } from "@hls-s2/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, main } from "../src/cli";
import { formatRecount, recount } from "../src/commands/recount";
import {
  documentClient,
  seedGranule,
  startTable,
  storeOf,
  type TestTable,
  uniqueDay,
} from "./helpers/granules";
import { captureIo } from "./helpers/io";

let table: TestTable;

beforeAll(async () => {
  table = await startTable();
});

afterAll(async () => {
  await table?.close();
});

/** What an older release left behind: one more `recorded` than granules (an ADD applied twice). */
async function countTwice(stores: Pick<TestTable, "dynamo" | "tableName">, day: string, platform: string) {
  await documentClient(stores).send(
    new UpdateCommand({
      TableName: stores.tableName,
      Key: { pk: `fetch#${day}#${platform}` },
      UpdateExpression: "ADD #recorded :one",
      ExpressionAttributeNames: { "#recorded": "recorded" },
      ExpressionAttributeValues: { ":one": 1 },
    }),
  );
}

describe("recount", () => {
  it("sets each platform's recorded counter to the granules the index holds", async () => {
    const day = uniqueDay();
    await seedGranule(table, day, "S2A", { status: "DOWNLOADED", bytes: 10 });
    await seedGranule(table, day, "S2A", { status: "DISCOVERED" });
    await seedGranule(table, day, "S2B", { status: "FAILED", error: "GranuleGoneError" });
    await countTwice(table, day, "S2A");

    const result = await recount({ day }, { store: storeOf(table) });

    expect(result).toEqual({
      day,
      platforms: [
        { platform: "S2A", before: 3, after: 2 },
        { platform: "S2B", before: 1, after: 1 },
      ],
    });
    expect((await storeOf(table).getFetchProgress(day, "S2A"))?.recorded).toBe(2);
    expect(formatRecount(result)).toContain(`${day} S2A: recorded 3 → 2`);
    // Repeating it changes nothing.
    expect((await recount({ day }, { store: storeOf(table) })).platforms).toEqual([
      { platform: "S2A", before: 2, after: 2 },
      { platform: "S2B", before: 1, after: 1 },
    ]);
  });

  it("rejects a day that is not YYYY-MM-DD", async () => {
    await expect(recount({ day: "2025-02-30" }, { store: storeOf(table) })).rejects.toThrow(/--day/);
  });

  it("runs from the command line on a local-mode data folder", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "hls-s2-recount-"));
    try {
      const stores = await startEmbeddedStores({ dataDir, dynamo: "dynalite" });
      try {
        await seedGranule(stores, "2025-05-21", "S2C", { status: "DISCOVERED" });
        await countTwice(stores, "2025-05-21", "S2C");
      } finally {
        await stores.close();
      }
      const { out, io } = captureIo();

      expect(await main(["recount", "--local", dataDir, "--day", "2025-05-21", "--json"], io)).toBe(EXIT.ok);

      expect(JSON.parse(out.stdout)).toEqual({
        day: "2025-05-21",
        platforms: [{ platform: "S2C", before: 2, after: 1 }],
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
