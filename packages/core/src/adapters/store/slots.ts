import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { HubSlotsBusyError, InvalidInputError } from "../../domain/errors";
import { TABLE_SCHEMA } from "../../domain/granule";
import { isConditionFailed } from "./dynamo";

/** HUB_DOWNLOAD_SLOTS when a stage sets none: NASA's agreement with ESA allows 15 concurrent downloads. */
export const DEFAULT_HUB_DOWNLOAD_SLOTS = 15;
/** What a CDSE general user may run at once ("Max session number 4 exceeded" beyond). */
export const CDSE_GENERAL_USER_SLOTS = 4;
/** At most this many slots: one BatchGetItem (100 keys at most) reads them all. */
export const MAX_HUB_DOWNLOAD_SLOTS = 100;
/** A handler trusts the slot count it read for this long, so `ops slots` takes effect within a minute. */
export const SLOT_SETTING_TTL_MS = 60_000;

const PK = TABLE_SCHEMA.partitionKey;
const SETTING_KEY = { [PK]: "hubslots#setting" };

function slotKey(slot: number) {
  return { [PK]: `hubslot#${slot}` };
}

/** A held slot: who holds it and until when, unless renewed. */
export interface SlotLease {
  slot: number;
  owner: string;
  granuleId?: string;
  expiresAt: number;
}

/** What `ops status` shows: the quota in force and the slots held now (expired leases left out). */
export interface SlotUsage {
  slots: number;
  /** True when the count comes from `ops slots`, false when it is the deploy default. */
  setAtRuntime: boolean;
  held: SlotLease[];
}

export interface SlotPoolOptions {
  tableName: string;
  /** The deploy setting HUB_DOWNLOAD_SLOTS: the quota until `ops slots` sets one in the table. */
  defaultSlots?: number;
  /** How long a slot is held without renewal before another download may take it (default 15 min). */
  leaseMs?: number;
  /** How long a read slot count is trusted (default 60 s). */
  settingTtlMs?: number;
  /** Clock in epoch ms; injected by tests. */
  now?: () => number;
  /** Where the search for a free slot starts, in [0, 1); spreads contending downloads over the slots. */
  random?: () => number;
}

function checkSlotCount(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_HUB_DOWNLOAD_SLOTS) {
    throw new InvalidInputError(
      `${field} must be an integer 1–${MAX_HUB_DOWNLOAD_SLOTS}, got ${String(value)}`,
      {
        field,
      },
    );
  }
  return value;
}

/**
 * The hub's concurrent-download quota shared by every execution of a stage (MaxConcurrency holds per
 * Map Run only): slot items `hubslot#<n>` in the granule table, each taken with a conditional write and
 * held under a lease, so a holder that dies frees its slot when the lease ends. The count lives in the
 * table (`hubslots#setting`, written by `ops slots`), else the deploy default. Slot items carry neither
 * `day` nor `status`, so the (day, status) index never sees them.
 */
export class SlotPool {
  readonly tableName: string;
  readonly defaultSlots: number;
  readonly leaseMs: number;
  readonly #client: DynamoDBDocumentClient;
  readonly #settingTtlMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  #setting?: { slots: number; setAtRuntime: boolean; readAt: number };

  /** @throws InvalidInputError naming a bad option. */
  constructor(client: DynamoDBDocumentClient, options: SlotPoolOptions) {
    let { defaultSlots, leaseMs, settingTtlMs, now, random } = options;
    defaultSlots ??= DEFAULT_HUB_DOWNLOAD_SLOTS;
    leaseMs ??= 15 * 60 * 1000;
    settingTtlMs ??= SLOT_SETTING_TTL_MS;
    now ??= Date.now;
    random ??= Math.random;
    if (typeof options.tableName !== "string" || options.tableName === "")
      throw new InvalidInputError("tableName is required", { field: "tableName" });
    checkSlotCount(defaultSlots, "defaultSlots");
    if (!Number.isFinite(leaseMs) || leaseMs <= 0)
      throw new InvalidInputError("leaseMs must be > 0", { field: "leaseMs" });
    if (!Number.isFinite(settingTtlMs) || settingTtlMs < 0)
      throw new InvalidInputError("settingTtlMs must be ≥ 0", { field: "settingTtlMs" });
    this.#client = client;
    this.tableName = options.tableName;
    this.defaultSlots = defaultSlots;
    this.leaseMs = leaseMs;
    this.#settingTtlMs = settingTtlMs;
    this.#now = now;
    this.#random = random;
  }

  /** The quota in force: the table's setting (read at most once per settingTtlMs), else the default. */
  async slotCount(): Promise<number> {
    return (await this.#readSetting()).slots;
  }

  /**
   * Takes a free slot (or one whose lease ended, or one this owner already holds: a retry of the same
   * child after a crash) for `owner`. Never waits: with every slot held it throws at once, and the
   * state machine's Retry does the waiting. One strongly consistent BatchGetItem finds the candidates
   * first, so a download that finds the quota full (most attempts of a waiting granule) costs one read,
   * not a failed conditional write per slot; the conditional write still decides between racers.
   * @throws HubSlotsBusyError when every slot is held under a live lease.
   */
  async acquire(owner: string, options: { granuleId?: string } = {}): Promise<SlotLease> {
    if (typeof owner !== "string" || owner === "")
      throw new InvalidInputError("owner must be a non-empty string", { field: "owner" });
    const slots = await this.slotCount();
    const leases = await this.#readSlots(slots, { consistent: true });
    const now = this.#now();
    const expiresAt = now + this.leaseMs;
    // Free, lapsed or already ours (the same test as the write's condition below).
    const candidates = Array.from({ length: slots }, (_, slot) => slot).filter((slot) => {
      const lease = leases.get(slot);
      return lease === undefined || lease.owner === owner || lease.expiresAt <= now;
    });
    // From a random candidate on, so contending downloads spread over the free slots instead of all
    // racing for the first one.
    const start = Math.floor(this.#random() * candidates.length);
    for (let i = 0; i < candidates.length; i++) {
      const slot = candidates[(start + i) % candidates.length]!;
      try {
        // UpdateItem "edits an existing item's attributes, or adds a new item to the table if it does not
        // already exist", and with a ConditionExpression writes only when the condition holds for the item
        // as stored (else ConditionalCheckFailedException): of downloads racing for a slot, one gets it.
        await this.#client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: slotKey(slot),
            UpdateExpression:
              options.granuleId === undefined
                ? "SET #holder = :owner, #expiresAt = :expiresAt, #acquiredAt = :acquiredAt REMOVE #granuleId"
                : "SET #holder = :owner, #expiresAt = :expiresAt, #acquiredAt = :acquiredAt, #granuleId = :granuleId",
            ConditionExpression: "attribute_not_exists(#holder) OR #holder = :owner OR #expiresAt <= :now",
            ExpressionAttributeNames: {
              "#holder": "holder",
              "#expiresAt": "expiresAt",
              "#acquiredAt": "acquiredAt",
              "#granuleId": "granuleId",
            },
            ExpressionAttributeValues: {
              ":owner": owner,
              ":now": now,
              ":expiresAt": expiresAt,
              ":acquiredAt": new Date(now).toISOString(),
              ...(options.granuleId !== undefined && { ":granuleId": options.granuleId }),
            },
          }),
        );
        return {
          slot,
          owner,
          expiresAt,
          ...(options.granuleId !== undefined && { granuleId: options.granuleId }),
        };
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
    }
    throw new HubSlotsBusyError(slots, options);
  }

  /**
   * Extends a held slot's lease (a long transfer must not outlive it). Undefined when the slot is no
   * longer this owner's (its lease ended and another download took it).
   */
  async renew(lease: SlotLease): Promise<SlotLease | undefined> {
    const expiresAt = this.#now() + this.leaseMs;
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: slotKey(lease.slot),
          UpdateExpression: "SET #expiresAt = :expiresAt",
          ConditionExpression: "#holder = :owner",
          ExpressionAttributeNames: { "#holder": "holder", "#expiresAt": "expiresAt" },
          ExpressionAttributeValues: { ":owner": lease.owner, ":expiresAt": expiresAt },
        }),
      );
      return { ...lease, expiresAt };
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** Frees a held slot (the item stays, without holder); a slot another download took over is left alone. */
  async release(lease: SlotLease): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: slotKey(lease.slot),
          UpdateExpression: "REMOVE #holder, #expiresAt, #granuleId",
          ConditionExpression: "#holder = :owner",
          ExpressionAttributeNames: {
            "#holder": "holder",
            "#expiresAt": "expiresAt",
            "#granuleId": "granuleId",
          },
          ExpressionAttributeValues: { ":owner": lease.owner },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  /**
   * Sets the quota at runtime (`ops slots`): downloads read it within settingTtlMs. Lowering it
   * interrupts nothing: a download holding a slot beyond the new count keeps it to the end, and no
   * new download takes that slot.
   * @throws InvalidInputError for a count outside 1–100.
   */
  async setSlotCount(slots: number): Promise<void> {
    checkSlotCount(slots, "slots");
    await this.#client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: SETTING_KEY,
        UpdateExpression: "SET #slots = :slots, #updatedAt = :updatedAt",
        ExpressionAttributeNames: { "#slots": "slots", "#updatedAt": "updatedAt" },
        ExpressionAttributeValues: { ":slots": slots, ":updatedAt": new Date(this.#now()).toISOString() },
      }),
    );
    this.#setting = { slots, setAtRuntime: true, readAt: this.#now() };
  }

  /** The quota in force and the slots held under a live lease (also those beyond a lowered count). */
  async usage(): Promise<SlotUsage> {
    this.#setting = undefined;
    const setting = await this.#readSetting();
    const now = this.#now();
    const held = await this.#readSlots(MAX_HUB_DOWNLOAD_SLOTS);
    return {
      slots: setting.slots,
      setAtRuntime: setting.setAtRuntime,
      held: [...held.values()].filter((lease) => lease.expiresAt > now).sort((a, b) => a.slot - b.slot),
    };
  }

  /**
   * The slots held under a live lease and the quota in force, in one BatchGetItem over the quota's
   * slots (the count is the cached one acquire used): cheap enough for every download to report.
   * Slots still held beyond a just-lowered count are not counted; usage() sees them.
   */
  async inUse(): Promise<{ held: number; slots: number }> {
    const slots = await this.slotCount();
    const now = this.#now();
    const leases = await this.#readSlots(slots);
    let held = 0;
    for (const lease of leases.values()) if (lease.expiresAt > now) held++;
    return { held, slots };
  }

  /**
   * Frees every slot, whoever holds it. Only for a local data folder at start: its lock proves no
   * other worker is alive, so every lease in it belongs to a dead run.
   */
  async releaseAll(): Promise<SlotLease[]> {
    const held = [...(await this.#readSlots(MAX_HUB_DOWNLOAD_SLOTS)).values()];
    for (const lease of held) await this.release(lease);
    return held;
  }

  async #readSetting(): Promise<{ slots: number; setAtRuntime: boolean }> {
    const now = this.#now();
    const cached = this.#setting;
    if (cached !== undefined && now - cached.readAt < this.#settingTtlMs) return cached;
    const answer = await this.#client.send(new GetCommand({ TableName: this.tableName, Key: SETTING_KEY }));
    const stored = answer.Item?.["slots"];
    // A malformed setting (edited by hand) falls back to the deploy default rather than stopping every download.
    const valid =
      typeof stored === "number" &&
      Number.isInteger(stored) &&
      stored >= 1 &&
      stored <= MAX_HUB_DOWNLOAD_SLOTS;
    this.#setting = valid
      ? { slots: stored, setAtRuntime: true, readAt: now }
      : { slots: this.defaultSlots, setAtRuntime: false, readAt: now };
    return this.#setting;
  }

  /**
   * The slot items 0…count−1 that exist (held or with an ended lease), by slot number. `consistent`:
   * BatchGetItem "performs eventually consistent reads on every table in the request" unless
   * ConsistentRead is true, and acquire must not skip a slot released a moment ago.
   */
  async #readSlots(count: number, options: { consistent?: boolean } = {}): Promise<Map<number, SlotLease>> {
    const held = new Map<number, SlotLease>();
    let keys: Record<string, unknown>[] = Array.from({ length: count }, (_, slot) => slotKey(slot));
    // BatchGetItem may return some keys as UnprocessedKeys (throughput, size): ask again for those.
    for (let round = 0; keys.length > 0 && round < 5; round++) {
      const answer = await this.#client.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: { Keys: keys, ...(options.consistent === true && { ConsistentRead: true }) },
          },
        }),
      );
      for (const item of answer.Responses?.[this.tableName] ?? []) {
        const slot = Number(String(item[PK]).slice("hubslot#".length));
        if (typeof item["holder"] !== "string" || typeof item["expiresAt"] !== "number") continue;
        held.set(slot, {
          slot,
          owner: item["holder"],
          expiresAt: item["expiresAt"],
          ...(typeof item["granuleId"] === "string" && { granuleId: item["granuleId"] }),
        });
      }
      keys = (answer.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
    }
    return held;
  }
}
