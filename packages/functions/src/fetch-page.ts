import { isPlatform, type Platform } from "@hls-s2/core/domain";
import { fetchPage, recordQueryFailure } from "@hls-s2/core/usecases";
import * as v from "valibot";
import { deadlineSignal, type LambdaClock, workingTimeMs } from "./lib/deadline";
import { DAY, parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { metricSink, publishMetrics } from "./lib/metrics";
import { getConfig, getHub, getStore } from "./lib/runtime";

// Loose: from the second page on, the input is this handler's own previous output.
// Any S2[A-Z]: a PLATFORMS setting naming Sentinel-2D must reach the hub, not die here.
const INPUT = v.looseObject({
  day: DAY,
  platform: v.custom<Platform>(isPlatform, "is not a Sentinel-2 platform"),
  // Set only by the state machine's RecordQueryFailure: the error its Catch took from this query.
  failure: v.optional(v.object({ Error: v.string(), Cause: v.optional(v.string()) })),
  executionName: v.optional(v.string()),
});

/**
 * FetchPage: pages one (day, platform) search within the time budget, from the stored offset; or,
 * given the `failure` the state machine caught for that query, records it on the query's cursor.
 */
export async function handler(event: unknown, context?: LambdaClock) {
  const { day, platform, failure, executionName } = parseInput(INPUT, event);
  if (failure !== undefined) {
    const recorded = await recordQueryFailure(
      { query: { day, platform }, caught: failure, executionName },
      { store: getStore() },
    );
    logger.error("search failed", { day, platform, ...recorded });
    return { day, platform, failed: recorded };
  }
  const { fetchTimeBudgetSeconds, pushEnabled } = getConfig("FetchPage");
  const budgetMs = fetchTimeBudgetSeconds * 1000;
  const deadline = Date.now() + Math.min(budgetMs, workingTimeMs(context) ?? budgetMs);
  // The budget stops new pages; the signal stops the page in flight (its retry ladder included) at the
  // margin before Lambda's timeout, so the offset of every page read is recorded and the handler returns.
  const signal = deadlineSignal(context);
  const { rejectedSample, ...result } = await fetchPage(
    { day, platform },
    { hub: await getHub(), store: getStore() },
    { deadline, ...(signal !== undefined && { signal }) },
    // The hub client counted its answers into the buffer (lib/runtime.ts): publish them, also on failure.
  ).finally(publishMetrics);
  // With push on, a granule the search recorded first is one the push never sent (a dead subscription
  // shows here). recordDiscovered's conditional put counts only granules no push recorded before.
  if (pushEnabled) {
    metricSink.add("GranulesMissedByPush", result.recorded);
    publishMetrics();
  }
  if (result.rejected > 0)
    logger.info("rejected hub entries", { day, platform, rejected: result.rejected, sample: rejectedSample });
  logger.info("fetched links", result);
  return result;
}
