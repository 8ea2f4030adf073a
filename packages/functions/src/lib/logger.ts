import { Logger } from "@aws-lambda-powertools/logger";
import { METRICS_SERVICE } from "@hls-s2/core/domain";

/** One structured JSON logger for every handler. Log levels come from POWERTOOLS_LOG_LEVEL. */
export const logger = new Logger({ serviceName: METRICS_SERVICE });
