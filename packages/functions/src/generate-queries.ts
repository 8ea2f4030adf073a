import { planWindow } from "@hls-s2/core/usecases";
import * as v from "valibot";
import { DAY, parseInput } from "./lib/input";
import { logger } from "./lib/logger";
import { getConfig } from "./lib/runtime";

// Strict: a misspelt backfill key ("form") must fail, not silently run the default window.
const INPUT = v.strictObject({
  from: v.optional(DAY),
  to: v.optional(DAY),
  platforms: v.optional(v.array(v.string())),
  downloadOnly: v.optional(v.boolean()),
});

/** GenerateQueries: the execution's window and its (day, platform) queries. */
export async function handler(event: unknown) {
  const input = parseInput(INPUT, event ?? {});
  const { lookbackDays, platforms, downloadsEnabled } = getConfig("GenerateQueries");
  const plan = planWindow(input, { today: new Date(), lookbackDays, platforms, downloadsEnabled });
  logger.info("planned window", {
    from: plan.from,
    to: plan.to,
    queries: plan.queries.length,
    downloadsEnabled,
  });
  return plan;
}
