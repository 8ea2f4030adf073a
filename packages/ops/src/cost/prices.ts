/**
 * AWS list prices the cost estimate uses: US West (Oregon), on-demand, first pricing tier, no free
 * tier. Step Functions, Lambda and DynamoDB were checked against their pricing pages' text on
 * 2026-12-01 (quoted below); S3, CloudWatch, SQS and Aurora are those pages' list prices as known
 * then and deserve a re-check before a budget is signed. Change prices here only, with the page.
 */
export const PRICES = {
  region: "us-west-2",
  readOn: "2026-12-01",
  stepFunctions: {
    // "$0.025 per 1,000 state transitions"; "each retry will be charged as an additional state transition".
    perStateTransition: 0.025 / 1000,
    source: "https://aws.amazon.com/step-functions/pricing/",
  },
  lambda: {
    // Arm: "First 7.5 Billion GB-seconds per month: $0.0000133334 per GB-second"; $0.20 per 1M requests.
    perArmGbSecond: 0.0000133334,
    perRequest: 0.2 / 1e6,
    source: "https://aws.amazon.com/lambda/pricing/",
  },
  dynamodb: {
    // On-demand since the November 2024 reduction: $0.625 per million WRU, $0.125 per million RRU.
    perWriteRequestUnit: 0.625 / 1e6,
    perReadRequestUnit: 0.125 / 1e6,
    perGbMonth: 0.25,
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  },
  s3: {
    // S3 Standard: PUT, COPY, POST, LIST $0.005 per 1,000; GET $0.0004 per 1,000; $0.023 per GB-month.
    perPutRequest: 0.005 / 1000,
    perGetRequest: 0.0004 / 1000,
    perGbMonth: 0.023,
    source: "https://aws.amazon.com/s3/pricing/",
  },
  cloudwatch: {
    // Logs ingestion $0.50 per GB; custom metrics $0.30 per metric-month; dashboards $3.00 each per
    // month; standard-resolution alarms $0.10 per alarm metric per month.
    perLogGbIngested: 0.5,
    perMetricMonth: 0.3,
    perDashboardMonth: 3,
    perAlarmMonth: 0.1,
    source: "https://aws.amazon.com/cloudwatch/pricing/",
  },
  // The reference design's services, for the README's comparison only.
  reference: {
    // Lambda x86, first tier: $0.0000166667 per GB-second.
    perX86GbSecond: 0.0000166667,
    // SQS standard queue: $0.40 per million requests.
    perSqsRequest: 0.4 / 1e6,
    // Aurora Serverless v2: $0.12 per ACU-hour; it never scales below its minimum (0.5 ACU).
    perAcuHour: 0.12,
    minimumAcu: 0.5,
    source: "https://aws.amazon.com/sqs/pricing/, https://aws.amazon.com/rds/aurora/pricing/",
  },
} as const;
