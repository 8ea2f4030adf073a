import { Metrics } from "@aws-lambda-powertools/metrics";

/** CloudWatch metrics as EMF log lines; the alarms read this namespace. */
export const metrics = new Metrics({ namespace: "HlsS2Downloader", serviceName: "hls-s2-downloader" });
