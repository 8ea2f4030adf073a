import { createGranuleTable, useLocalDynamo } from "@hls-s2/testing/dynamo";
import { describe, expect, it } from "vitest";
import { SlotPool, type SlotPoolOptions } from "../../../src/adapters/store/slots";
import { HubSlotsBusyError, InvalidInputError } from "../../../src/domain/errors";

const T0 = Date.parse("2030-06-01T12:00:00.000Z");
const dynamo = useLocalDynamo();
let tables = 0;

/** A pool on a table of its own (slots are per table), with a clock the test moves. */
async function aPool(options: Partial<SlotPoolOptions> = {}) {
  const tableName = `slots-${++tables}`;
  await createGranuleTable(dynamo.client, tableName);
  const clock = { ms: T0 };
  const make = (extra: Partial<SlotPoolOptions> = {}) =>
    new SlotPool(dynamo.documentClient, {
      tableName,
      defaultSlots: 2,
      leaseMs: 60_000,
      now: () => clock.ms,
      ...options,
      ...extra,
    });
  return { pool: make(), make, clock };
}

describe("SlotPool", () => {
  it("hands out each slot once and refuses at once with HubSlotsBusyError when all are held", async () => {
    const { pool } = await aPool();
    const a = await pool.acquire("child-a");
    const b = await pool.acquire("child-b");
    expect(new Set([a.slot, b.slot])).toEqual(new Set([0, 1]));
    await expect(pool.acquire("child-c", { granuleId: "g-c" })).rejects.toMatchObject({
      name: "HubSlotsBusyError",
      slots: 2,
      granuleId: "g-c",
      retryable: true,
    });
  });

  it("answers a full quota with one read and no write, and a free slot with one write", async () => {
    const { make } = await aPool({ defaultSlots: 3 });
    const holder = make();
    const held = [];
    for (const owner of ["child-a", "child-b", "child-c"]) held.push(await holder.acquire(owner));
    const sent: string[] = [];
    const counting = new Proxy(dynamo.documentClient, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return (command: { constructor: { name: string } }) => {
          sent.push(command.constructor.name);
          return target.send(command as never);
        };
      },
    });
    const waiting = new SlotPool(counting, { tableName: holder.tableName, defaultSlots: 3, now: () => T0 });
    await expect(waiting.acquire("child-d")).rejects.toBeInstanceOf(HubSlotsBusyError);
    expect(sent.filter((name) => name === "UpdateCommand")).toEqual([]);
    expect(sent.filter((name) => name === "BatchGetCommand")).toHaveLength(1);

    await holder.release(held[1]!);
    sent.length = 0;
    expect((await waiting.acquire("child-d")).slot).toBe(held[1]!.slot);
    expect(sent.filter((name) => name === "UpdateCommand")).toHaveLength(1);
  });

  it("gives the slot back on release, so the next download takes it", async () => {
    const { pool } = await aPool({ defaultSlots: 1 });
    const a = await pool.acquire("child-a");
    await expect(pool.acquire("child-b")).rejects.toBeInstanceOf(HubSlotsBusyError);
    await pool.release(a);
    expect((await pool.acquire("child-b")).slot).toBe(0);
  });

  it("lets exactly as many of many racing downloads through as there are slots", async () => {
    const { make } = await aPool({ defaultSlots: 4 });
    // Separate pools: separate Lambda containers, each with its own view of the table.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => make({ random: () => 0 }).acquire(`child-${i}`)),
    );
    const won = outcomes.filter((o) => o.status === "fulfilled");
    expect(won).toHaveLength(4);
    expect(new Set(won.map((o) => (o as PromiseFulfilledResult<{ slot: number }>).value.slot)).size).toBe(4);
    expect(
      outcomes.filter((o) => o.status === "rejected").every((o) => o.reason instanceof HubSlotsBusyError),
    ).toBe(true);
  });

  it("frees the slot of a holder that died once its lease ends, not before", async () => {
    const { pool, clock } = await aPool({ defaultSlots: 1 });
    await pool.acquire("crashed-child");
    clock.ms += 59_999;
    await expect(pool.acquire("child-b")).rejects.toBeInstanceOf(HubSlotsBusyError);
    clock.ms += 1;
    expect((await pool.acquire("child-b")).owner).toBe("child-b");
  });

  it("keeps a renewed slot past its first lease and tells a holder who lost it", async () => {
    const { pool, clock } = await aPool({ defaultSlots: 1 });
    const a = await pool.acquire("child-a");
    clock.ms += 50_000;
    const renewed = await pool.renew(a);
    expect(renewed?.expiresAt).toBe(T0 + 110_000);
    clock.ms += 50_000;
    await expect(pool.acquire("child-b")).rejects.toBeInstanceOf(HubSlotsBusyError);
    clock.ms += 60_001;
    await pool.acquire("child-b");
    expect(await pool.renew(a)).toBeUndefined();
    // The late release of the old holder must not free the new holder's slot.
    await pool.release(a);
    await expect(pool.acquire("child-c")).rejects.toBeInstanceOf(HubSlotsBusyError);
  });

  it("gives a retrying owner back the slot it already holds", async () => {
    const { pool } = await aPool({ defaultSlots: 1 });
    const first = await pool.acquire("child-a");
    expect((await pool.acquire("child-a")).slot).toBe(first.slot);
  });

  it("reads a count set at runtime within the setting's time to live, without a redeploy", async () => {
    const { pool, make, clock } = await aPool({ defaultSlots: 1 });
    expect(await pool.slotCount()).toBe(1);
    await make().setSlotCount(3);
    // The running container trusts what it read for a minute…
    expect(await pool.slotCount()).toBe(1);
    clock.ms += 60_000;
    // …then reads the new quota.
    expect(await pool.slotCount()).toBe(3);
    await pool.acquire("a");
    await pool.acquire("b");
    await pool.acquire("c");
    await expect(pool.acquire("d")).rejects.toBeInstanceOf(HubSlotsBusyError);
  });

  it("lowering the count leaves a running download its slot and gives that slot to no one else", async () => {
    const { pool, clock } = await aPool({ defaultSlots: 2, settingTtlMs: 0, random: () => 0.99 });
    const high = await pool.acquire("child-a");
    expect(high.slot).toBe(1);
    await pool.setSlotCount(1);
    clock.ms += 1;
    await pool.acquire("child-b");
    await expect(pool.acquire("child-c")).rejects.toBeInstanceOf(HubSlotsBusyError);
    expect(await pool.renew(high)).toBeDefined();
    const usage = await pool.usage();
    expect(usage).toMatchObject({ slots: 1, setAtRuntime: true });
    expect(usage.held.map((lease) => lease.owner).sort()).toEqual(["child-a", "child-b"]);
  });

  it("shows held slots in usage and frees them all for a dead local run", async () => {
    const { pool } = await aPool({ defaultSlots: 3 });
    await pool.acquire("a", { granuleId: "g-a" });
    await pool.acquire("b");
    const usage = await pool.usage();
    expect(usage).toMatchObject({ slots: 3, setAtRuntime: false });
    expect(usage.held).toHaveLength(2);
    expect(usage.held.find((lease) => lease.owner === "a")?.granuleId).toBe("g-a");
    expect(await pool.releaseAll()).toHaveLength(2);
    expect((await pool.usage()).held).toHaveLength(0);
  });

  it("counts the slots held under a live lease, with the quota in force, in one read", async () => {
    const { pool, clock } = await aPool({ defaultSlots: 3 });
    expect(await pool.inUse()).toEqual({ held: 0, slots: 3 });
    const a = await pool.acquire("child-a");
    await pool.acquire("child-b");
    expect(await pool.inUse()).toEqual({ held: 2, slots: 3 });
    // Released, and expired, slots are free: neither counts.
    await pool.release(a);
    expect(await pool.inUse()).toEqual({ held: 1, slots: 3 });
    clock.ms += 60_000;
    expect(await pool.inUse()).toEqual({ held: 0, slots: 3 });
  });

  it("rejects bad options and counts by name", async () => {
    const { pool } = await aPool();
    expect(() => new SlotPool(dynamo.documentClient, { tableName: "" })).toThrow(/tableName/);
    expect(() => new SlotPool(dynamo.documentClient, { tableName: "t", defaultSlots: 0 })).toThrow(
      InvalidInputError,
    );
    expect(() => new SlotPool(dynamo.documentClient, { tableName: "t", leaseMs: 0 })).toThrow(/leaseMs/);
    await expect(pool.setSlotCount(101)).rejects.toThrow(/slots must be an integer 1–100/);
    await expect(pool.acquire("")).rejects.toThrow(/owner/);
  });
});
