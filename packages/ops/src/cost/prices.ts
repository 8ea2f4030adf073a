/**
 * AWS list prices the cost estimate uses: US West (Oregon), on-demand, first pricing tier, no free
 * tier. Step Functions, Lambda and DynamoDB were checked against their pricing pages' text on
 * 2026-12-01 (quoted below); S3, CloudWatch and SQS are those pages' list prices as known then, and the
 * reference system's Aurora prices say where each comes from (one is an assumption): re-check them before
 * a budget is signed. Change prices here only, with the page.
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
  // The reference system's services (reference.ts). Year 3 of RDS Extended Support began on 1 March 2026
  // for Aurora PostgreSQL 11: "$0.10 per vCPU per hour during years one and two … doubles to $0.20 per
  // vCPU per hour in year three", on top of the instance (third-party summaries of the RDS pricing page:
  // cloudyali.io/blogs/rds-extended-support-cost-levers, usage.ai; US East, assumed the same in Oregon).
  reference: {
    // Lambda x86, first tier: $0.0000166667 per GB-second.
    perX86GbSecond: 0.0000166667,
    // SQS standard queue: $0.40 per million requests.
    perSqsRequest: 0.4 / 1e6,
    // ASSUMPTION: Aurora PostgreSQL db.t3.medium on demand at $0.082 per hour; no stored page states it
    // (a third-party table lists db.t4g.medium at $0.090). Re-check on the Aurora pricing page.
    auroraInstancePerHour: 0.082,
    extendedSupportYear3PerVcpuHour: 0.2,
    // Aurora Standard: $0.20 per million I/O requests, $0.10 per GB-month of storage (us-east-1 figures
    // in AWS's own Aurora cost analyzer, aws/agent-toolkit-for-aws io_optimized_analyzer.py).
    auroraPerIo: 0.2 / 1e6,
    auroraPerGbMonth: 0.1,
    source:
      "https://aws.amazon.com/rds/aurora/pricing/, https://aws.amazon.com/sqs/pricing/, https://aws.amazon.com/lambda/pricing/",
  },
} as const;
