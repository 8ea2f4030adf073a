import { startPushedDownloads } from "@hls-s2/core/usecases";
import * as v from "valibot";
import { parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { getConfig, getSfn, getStore } from "./lib/runtime";

// EventBridge's scheduled event; `time` is the scheduled time, so a redelivered event names the same slot.
const INPUT = v.looseObject({
  time: v.optional(v.pipe(v.string(), v.isoTimestamp("must be an ISO timestamp"))),
});

/** StartPushedDownloads: every 5 minutes, a download-only run when pushed granules wait and none runs. */
export async function handler(event: unknown) {
  const { time } = parseInput(INPUT, event ?? {});
  const at = time === undefined ? new Date() : new Date(time);
  const { stateMachineArn, lookbackDays } = getConfig("StartPushedDownloads");
  const result = await startPushedDownloads(
    { store: getStore(), sfn: getSfn(), stateMachineArn },
    { now: () => at, lookbackDays },
  );
  logger.info(result.started ? "started pushed-granules run" : "no pushed-granules run", { ...result });
  return result;
}
