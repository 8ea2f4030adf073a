import { writeManifest } from "@hls-s2/core";
import * as v from "valibot";
import { DAY, parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { getConfig, getS3, getStore } from "./lib/runtime";

const INPUT = v.object({ from: DAY, to: DAY, executionName: v.pipe(v.string(), v.minLength(1)) });

/** WriteManifest: the window's pending granules as the Distributed Map's item list in the work bucket. */
export async function handler(event: unknown) {
  const input = parseInput(INPUT, event);
  const manifest = await writeManifest(input, {
    store: getStore(),
    s3: getS3(),
    bucket: getConfig("WriteManifest").workBucketName,
  });
  // A recount is not an error, but a count that was wrong is worth an operator's look.
  if (manifest.recounted !== undefined)
    logger.warn("recounted days from the index", { recounted: manifest.recounted });
  logger.info("wrote manifest", { ...manifest });
  return manifest;
}
