import { recordFailure } from "@hls-s2/core";
import * as v from "valibot";
import { parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { getStore } from "./lib/runtime";

const NON_EMPTY = v.pipe(v.string(), v.minLength(1));
const INPUT = v.object({
  granuleId: NON_EMPTY,
  owner: NON_EMPTY,
  error: v.object({ Error: NON_EMPTY, Cause: v.optional(v.string()) }),
});

/** RecordFailure: marks the granule FAILED with the error that ended its child execution. */
export async function handler(event: unknown) {
  const input = parseInput(INPUT, event);
  const result = await recordFailure(input, { store: getStore() });
  logger.warn("granule failed", { ...result });
  return result;
}
