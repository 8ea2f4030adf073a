import { writeManifest } from "@hls-s2/core/usecases";
import * as v from "valibot";
import { DAY, parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { getConfig, getS3, getStore } from "./lib/runtime";

const INPUT = v.object({ from: DAY, to: DAY, executionName: v.pipe(v.string(), v.minLength(1)) });

/** WriteManifest: the pending granules of the window and the reconciliation horizon as the Distributed Map's item list. */
export async function handler(event: unknown) {
  const input = parseInput(INPUT, event);
  const config = getConfig("WriteManifest");
  const manifest = await writeManifest(
    input,
    { store: getStore(), s3: getS3(), bucket: config.workBucketName },
    { horizonDays: config.reconciliationHorizonDays },
  );
  // A recount is not an error, but a count that was wrong is worth an operator's look.
  if (manifest.recounted !== undefined)
    logger.warn("recounted days from the index", { recounted: manifest.recounted });
  logger.info("wrote manifest", { ...manifest });
  return manifest;
}
