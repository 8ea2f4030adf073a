import { startPushedDownloads } from "@hls-s2/core/usecases";
import * as v from "valibot";
import { parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { getConfig, getSfn, getStore } from "./lib/runtime";

// EventBridge's scheduled event, or the poll rule's `{ kind, time }`; `time` is the scheduled time, so a
// redelivered event names the same run.
const INPUT = v.looseObject({
  time: v.optional(v.pipe(v.string(), v.isoTimestamp("must be an ISO timestamp"))),
  kind: v.optional(v.picklist(["pushed", "poll"])),
});

/** StartPushedDownloads: every minute, a download-only run when recorded granules wait; the continuous mode's poll. */
export async function handler(event: unknown) {
  const { time, kind } = parseInput(INPUT, event ?? {});
  const at = time === undefined ? new Date() : new Date(time);
  const { stateMachineArn, lookbackDays } = getConfig("StartPushedDownloads");
  const result = await startPushedDownloads(
    { store: getStore(), sfn: getSfn(), stateMachineArn },
    { now: () => at, lookbackDays, ...(kind !== undefined && { kind }) },
  );
  logger.info(result.started ? `started ${kind ?? "pushed"} run` : `no ${kind ?? "pushed"} run`, {
    ...result,
  });
  return result;
}
