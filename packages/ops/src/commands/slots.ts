import { InvalidInputError } from "@hls-s2/core/errors";
import { MAX_HUB_DOWNLOAD_SLOTS, type SlotLease, type SlotPool } from "@hls-s2/core/store";

export interface SlotsResult {
  /** The quota in force now (after the change, when one was asked for). */
  slots: number;
  /** True when the count was set with `ops slots`; false: the deploy setting HUB_DOWNLOAD_SLOTS. */
  setAtRuntime: boolean;
  /** The count before this command changed it. */
  previous?: number;
  /** Slots held under a live lease: downloads in progress, across every execution. */
  held: SlotLease[];
}

/**
 * Shows the hub quota and the slots in use, or sets the quota (`count`) for every execution of the
 * stage: running downloads keep their slots, new ones follow the new count within a minute.
 * @throws InvalidInputError when `count` is not an integer 1–100.
 */
export async function slots(
  input: { count?: string },
  deps: { pool: Pick<SlotPool, "usage" | "setSlotCount"> },
): Promise<SlotsResult> {
  let previous: number | undefined;
  if (input.count !== undefined) {
    const count = Number(input.count);
    if (!/^\d+$/.test(input.count) || count < 1 || count > MAX_HUB_DOWNLOAD_SLOTS) {
      throw new InvalidInputError(
        `slots must be an integer 1–${MAX_HUB_DOWNLOAD_SLOTS}, got ${input.count}`,
        {
          field: "slots",
        },
      );
    }
    previous = (await deps.pool.usage()).slots;
    await deps.pool.setSlotCount(count);
  }
  const usage = await deps.pool.usage();
  return {
    slots: usage.slots,
    setAtRuntime: usage.setAtRuntime,
    held: usage.held,
    ...(previous !== undefined && { previous }),
  };
}

/** One line per slot holder under a summary line: what `ops slots` and `ops status` print. */
export function formatSlots(
  result: Pick<SlotsResult, "slots" | "setAtRuntime" | "held" | "previous">,
): string {
  const source = result.setAtRuntime ? "set with ops slots" : "the deploy setting HUB_DOWNLOAD_SLOTS";
  const change =
    result.previous === undefined ? "" : ` (was ${result.previous}; downloads follow within a minute)`;
  const lines = [`Hub slots: ${result.held.length} of ${result.slots} in use — ${source}${change}`];
  for (const lease of result.held) {
    lines.push(
      `  slot ${lease.slot}: ${lease.granuleId ?? "?"} held by ${lease.owner} until ${new Date(lease.expiresAt).toISOString()}`,
    );
  }
  return lines.join("\n");
}
