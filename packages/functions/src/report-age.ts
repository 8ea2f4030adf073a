import { measureUnfinishedAge, reportUnfinishedAge } from "@hls-s2/core/usecases";
import { logger } from "./lib/logger";
import { metricSink, publishMetrics } from "./lib/metrics";
import { getConfig, getStore } from "./lib/runtime";

/** ReportAge: every 15 minutes, the unfinished granules of recent days by age (the age alarm's source). */
export async function handler() {
  const { reconciliationHorizonDays, unfinishedAgeAlarmHours } = getConfig("ReportAge");
  const age = await measureUnfinishedAge(
    { store: getStore() },
    { horizonDays: reconciliationHorizonDays, thresholdHours: unfinishedAgeAlarmHours },
  );
  reportUnfinishedAge(age, metricSink);
  publishMetrics();
  logger.info("unfinished granules", { ...age });
  return age;
}
