import { downloadGranule } from "@hls-s2/core/usecases";
import * as v from "valibot";
import { deadlineSignal, type LambdaClock } from "./lib/deadline";
import { parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { metricSink, publishMetrics } from "./lib/metrics";
import { getConfig, getHub, getS3, getSlots, getStore } from "./lib/runtime";

const NON_EMPTY = v.pipe(v.string(), v.minLength(1));
const INPUT = v.object({ granuleId: NON_EMPTY, owner: NON_EMPTY });

/** Download: one granule, claimed, streamed and verified; typed errors propagate for Retry/Catch. */
export async function handler(event: unknown, context?: LambdaClock) {
  const input = parseInput(INPUT, event);
  // Aborting before the timeout lets the transfer checkpoint and raise TransferInterruptedError (retried)
  // instead of Lambda killing it mid-part (Lambda.Unknown, the lease held until it expires).
  const signal = deadlineSignal(context);
  const config = getConfig("Download");
  // Published on every exit, a failed attempt's too: its hub counts are the ones an operator wants.
  const result = await downloadGranule(input, {
    store: getStore(),
    hub: await getHub(),
    slots: getSlots(),
    s3: getS3(),
    bucket: config.bucketName,
    objectPrefix: config.objectPrefix,
    partSizeBytes: config.partSizeMib * 1024 * 1024,
    queueSize: config.partQueueSize,
    archiveCheck: config.zipCheck,
    listUploads: config.uploadBucketListable,
    verifyWithoutChecksum: config.verifyWithoutChecksum,
    minBytesPerSecond: config.downloadMinBytesPerSecond,
    floorWindowMs: config.downloadFloorWindowSeconds * 1000,
    signal,
    logger,
    metrics: metricSink,
  }).finally(publishMetrics);
  logger.info("download finished", { ...result });
  return result;
}
