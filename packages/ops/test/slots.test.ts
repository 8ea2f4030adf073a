import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SlotPool } from "@hls-s2/core/store";
import { startEmbeddedStores } from "@hls-s2/local";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXIT, main, parseCommandLine } from "../src/cli";
import { documentClient } from "./helpers/granules";
import { captureIo } from "./helpers/io";

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "hls-s2-ops-slots-"));
  // A folder holding dynalite data keeps dynalite, so each --local command below opens it in-process
  // instead of starting DynamoDB Local's JVM (~3.5 s of CPU a start; embedded.test.ts tests that one).
  await (await startEmbeddedStores({ dataDir, dynamo: "dynalite" })).close();
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("ops slots", () => {
  it("sets the quota of a data folder in its table, where every execution's downloads read it", async () => {
    const { out, io } = captureIo();
    expect(await main(["slots", "--local", dataDir, "4"], io)).toBe(EXIT.ok);
    expect(out.stdout).toContain("Hub slots: 0 of 4 in use — set with ops slots (was 15;");

    const stores = await startEmbeddedStores({ dataDir });
    try {
      // A download's pool (deploy default 15) follows the table's 4.
      const pool = new SlotPool(documentClient(stores), { tableName: stores.tableName, defaultSlots: 15 });
      expect(await pool.slotCount()).toBe(4);
      await pool.acquire("exec-1", { granuleId: "g-1" });
    } finally {
      await stores.close();
    }

    const status = captureIo();
    expect(await main(["status", "--local", dataDir, "--day", "2025-05-20"], status.io)).toBe(EXIT.ok);
    expect(status.out.stdout).toContain("Hub slots: 1 of 4 in use");
    expect(status.out.stdout).toMatch(/slot \d: g-1 held by exec-1 until /);
  });

  it("refuses a count outside 1–100 as a usage error, naming it", async () => {
    const { out, io } = captureIo();
    expect(await main(["slots", "--local", dataDir, "0"], io)).toBe(EXIT.usage);
    expect(out.stderr).toContain("error (--slots): slots must be an integer 1–100, got 0");
  });

  it("takes the count as its one argument and no other command an extra one", () => {
    expect(parseCommandLine(["slots", "--stage", "prod", "4"]).flags).toEqual({ count: "4" });
    expect(() => parseCommandLine(["status", "--stage", "prod", "4"])).toThrow(/unexpected argument 4/);
  });
});
