import { Logger } from "@aws-lambda-powertools/logger";

/** One structured JSON logger for every handler. Log levels come from POWERTOOLS_LOG_LEVEL. */
export const logger = new Logger({ serviceName: "hls-s2-downloader" });
