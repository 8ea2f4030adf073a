import { fetchPage, isPlatform, type Platform } from "@hls-s2/core";
import * as v from "valibot";
import { type LambdaClock, workingTimeMs } from "./lib/deadline";
import { DAY, parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { publishMetrics } from "./lib/metrics";
import { getConfig, getHub, getStore } from "./lib/runtime";

// Loose: from the second page on, the input is this handler's own previous output.
// Any S2[A-Z]: a PLATFORMS setting naming Sentinel-2D must reach the hub, not die here.
const INPUT = v.looseObject({
  day: DAY,
  platform: v.custom<Platform>(isPlatform, "is not a Sentinel-2 platform"),
});

/** FetchPage: pages one (day, platform) search within the time budget, from the stored offset. */
export async function handler(event: unknown, context?: LambdaClock) {
  const { day, platform } = parseInput(INPUT, event);
  const budgetMs = getConfig().fetchTimeBudgetSeconds * 1000;
  const deadline = Date.now() + Math.min(budgetMs, workingTimeMs(context) ?? budgetMs);
  const { rejectedSample, ...result } = await fetchPage(
    { day, platform },
    { hub: await getHub(), store: getStore() },
    { deadline },
    // The hub client counted its answers into the buffer (lib/runtime.ts): publish them, also on failure.
  ).finally(publishMetrics);
  if (result.rejected > 0)
    logger.info("rejected hub entries", { day, platform, rejected: result.rejected, sample: rejectedSample });
  logger.info("fetched links", result);
  return result;
}
