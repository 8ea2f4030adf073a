import { METRICS } from "@hls-s2/core/domain";
import { objectWriteRequests } from "@hls-s2/core/transfer";
import { PRICES } from "./prices";

/** What the synthesized stack fixes: each function's memory, the part size, what CloudWatch holds. */
export interface StackFigures {
  /** Memory in MB of each workflow function (Task state name → MemorySize). */
  memoryMb: Record<string, number>;
  /** Multipart part size of the Download function (PART_SIZE_MIB or the config default). */
  partSizeBytes: number;
  /** Executions a day: 1 for the daily schedule. */
  executionsPerDay: number;
  alarms: number;
  dashboards: number;
}

/** What a local run measured, by the AWS calls the deployed app would make (RunLocalOptions.onAwsCall). */
export interface RunCounts {
  granules: number;
  /** Lambda invocations per Task state, retries included. */
  invocations: Record<string, number>;
  /** States other than Tasks entered once per granule (the child workflow) and once per execution. */
  otherStatesPerGranule: number;
  otherStatesPerExecution: number;
  /** DynamoDB and S3 requests of the per-granule functions (Download, FetchPage), the object's writes excluded. */
  granuleDynamoReads: number;
  granuleDynamoWrites: number;
  granuleS3Requests: number;
  /** The same for the once-per-execution functions and the state machine (manifest, Map Run results). */
  executionDynamoReads: number;
  executionDynamoWrites: number;
  executionS3Requests: number;
}

export interface CostOptions {
  granulesPerDay: number;
  meanSizeBytes: number;
  /** What one hub connection gives (bytes/s): a Download holds its Lambda that long. Default 20 MB/s. */
  hubBytesPerSecond?: number;
  /** Seconds a search page takes at the hub (FetchPage is hub-bound too). Default 2. */
  searchPageSeconds?: number;
  /** Seconds of each once-per-execution function (GenerateQueries, WriteManifest, Summarize). Default 2. */
  smallTaskSeconds?: number;
  /** Days in the month. Default 30. */
  days?: number;
}

export interface CostLine {
  service: string;
  item: string;
  quantity: number;
  unit: string;
  usd: number;
}

export interface CostEstimate {
  lines: CostLine[];
  totalUsd: number;
  /** Per-granule figures behind the lines, for the README and the tests. */
  perGranule: { stateTransitions: number; downloadSeconds: number; uploadParts: number };
}

/** Task states run once per granule (or per search page, which scales with granules). */
const PER_GRANULE_TASKS = new Set(["Download", "FetchPage"]);
// Estimates, not measurements (their lines stay under $1 at 13,000 granules a day): the log bytes of a
// granule (Download's three JSON log lines, its EMF line, FetchPage's share), a granule item with
// checksum, error and upload state, and its Map Run result line.
const LOG_BYTES_PER_GRANULE = 4096;
const TABLE_BYTES_PER_GRANULE = 2048;
const RESULT_BYTES_PER_GRANULE = 1024;

/**
 * The monthly cost of a stage at `granulesPerDay` granules of `meanSizeBytes`, by service, from the
 * stack's settings and a local run's measured counts (scaled per granule and per execution).
 * @throws RangeError on a non-positive volume or a run without granules.
 */
export function estimateMonthlyCost(stack: StackFigures, run: RunCounts, options: CostOptions): CostEstimate {
  const { granulesPerDay, meanSizeBytes } = options;
  if (!(granulesPerDay > 0) || !(meanSizeBytes > 0))
    throw new RangeError("granules and mean size must be > 0");
  if (!(run.granules > 0)) throw new RangeError("the measured run downloaded no granule");
  const hubBytesPerSecond = options.hubBytesPerSecond ?? 20e6;
  const searchPageSeconds = options.searchPageSeconds ?? 2;
  const smallTaskSeconds = options.smallTaskSeconds ?? 2;
  const days = options.days ?? 30;
  const granules = granulesPerDay * days;
  const executions = stack.executionsPerDay * days;
  const perGranule = (count: number) => count / run.granules;
  const lines: CostLine[] = [];
  const add = (service: string, item: string, quantity: number, unit: string, price: number) =>
    lines.push({ service, item, quantity, unit, usd: quantity * price });

  // Step Functions: every Task attempt (a retry is a transition) plus the other states entered.
  let taskTransitionsPerGranule = 0;
  let taskTransitionsPerExecution = 0;
  for (const [task, count] of Object.entries(run.invocations)) {
    if (PER_GRANULE_TASKS.has(task)) taskTransitionsPerGranule += perGranule(count);
    else taskTransitionsPerExecution += count;
  }
  const transitionsPerGranule = taskTransitionsPerGranule + run.otherStatesPerGranule;
  add(
    "Step Functions",
    "state transitions",
    granules * transitionsPerGranule +
      executions * (taskTransitionsPerExecution + run.otherStatesPerExecution),
    "transitions",
    PRICES.stepFunctions.perStateTransition,
  );

  // Lambda: hub-bound seconds at the configured rate, times each function's memory from the stack.
  const downloadSeconds = meanSizeBytes / hubBytesPerSecond;
  let requests = 0;
  for (const [task, count] of Object.entries(run.invocations)) {
    const memoryGb = (stack.memoryMb[task] ?? 0) / 1024;
    const invocations = PER_GRANULE_TASKS.has(task) ? granules * perGranule(count) : executions * count;
    const seconds =
      task === "Download"
        ? granules * downloadSeconds
        : invocations * (task === "FetchPage" ? searchPageSeconds : smallTaskSeconds);
    requests += invocations;
    add("Lambda", `${task} GB-seconds`, seconds * memoryGb, "GB-s", PRICES.lambda.perArmGbSecond);
  }
  add("Lambda", "requests", requests, "requests", PRICES.lambda.perRequest);

  // DynamoDB on-demand: items are under 1 KB written / 4 KB read per request unit at this size.
  add(
    "DynamoDB",
    "write request units",
    granules * perGranule(run.granuleDynamoWrites) + executions * run.executionDynamoWrites,
    "WRU",
    PRICES.dynamodb.perWriteRequestUnit,
  );
  add(
    "DynamoDB",
    "read request units",
    granules * perGranule(run.granuleDynamoReads) + executions * run.executionDynamoReads,
    "RRU",
    PRICES.dynamodb.perReadRequestUnit,
  );
  add(
    "DynamoDB",
    "storage (month's items)",
    (granules * TABLE_BYTES_PER_GRANULE) / 1e9,
    "GB-month",
    PRICES.dynamodb.perGbMonth,
  );

  // S3: the object's writes follow the stack's part size (one PutObject when a product fits in one part,
  // else Create, the parts and Complete); the rest of the requests are measured.
  const uploadParts = Math.ceil(meanSizeBytes / stack.partSizeBytes);
  const objectWrites = objectWriteRequests(meanSizeBytes, stack.partSizeBytes);
  add(
    "S3",
    "requests (the object's writes at the stack's part size, the rest measured)",
    granules * (objectWrites + perGranule(run.granuleS3Requests)) + executions * run.executionS3Requests,
    "requests",
    PRICES.s3.perPutRequest,
  );
  add(
    "S3",
    "work bucket storage (Map Run results)",
    (granules * RESULT_BYTES_PER_GRANULE) / 1e9,
    "GB-month",
    PRICES.s3.perGbMonth,
  );

  add(
    "CloudWatch",
    "logs ingested",
    (granules * LOG_BYTES_PER_GRANULE) / 1e9,
    "GB",
    PRICES.cloudwatch.perLogGbIngested,
  );
  add("CloudWatch", "custom metrics", CUSTOM_METRIC_SERIES, "metrics", PRICES.cloudwatch.perMetricMonth);
  add("CloudWatch", "alarms", stack.alarms, "alarms", PRICES.cloudwatch.perAlarmMonth);
  add("CloudWatch", "dashboards", stack.dashboards, "dashboards", PRICES.cloudwatch.perDashboardMonth);

  return {
    lines,
    totalUsd: lines.reduce((sum, line) => sum + line.usd, 0),
    perGranule: { stateTransitions: transitionsPerGranule, downloadSeconds, uploadParts },
  };
}

// One series per metric name (stage and hub fixed), ~5 error names on each metric counted by error name.
const CUSTOM_METRIC_SERIES = Object.values(METRICS).reduce(
  (sum, spec) => sum + ("byErrorName" in spec ? 5 : 1),
  0,
);

/** A Markdown table of an estimate, by line, with the total. */
export function formatCost(estimate: CostEstimate, title: string): string {
  const money = (usd: number) => `$${usd.toFixed(2)}`;
  const rows = estimate.lines.map(
    (line) =>
      `| ${line.service} | ${line.item} | ${Math.round(line.quantity).toLocaleString("en-US")} ${line.unit} | ${money(line.usd)} |`,
  );
  return [
    `**${title}**`,
    "",
    "| service | item | per month | USD |",
    "| --- | --- | ---: | ---: |",
    ...rows,
    `| **total** | | | **${money(estimate.totalUsd)}** |`,
  ].join("\n");
}

/** Each design's month, per TB mirrored and per granule, at one volume. */
export interface CostComparison {
  granulesPerMonth: number;
  terabytesPerMonth: number;
  designs: { name: string; totalUsd: number; perTerabyteUsd: number; perGranuleUsd: number }[];
}

/** Puts estimates of the same volume side by side; the first is the one the ratios are of. */
export function compareCosts(
  designs: { name: string; estimate: CostEstimate }[],
  options: CostOptions,
): CostComparison {
  const granulesPerMonth = options.granulesPerDay * (options.days ?? 30);
  const terabytesPerMonth = (granulesPerMonth * options.meanSizeBytes) / 1e12;
  return {
    granulesPerMonth,
    terabytesPerMonth,
    designs: designs.map(({ name, estimate }) => ({
      name,
      totalUsd: estimate.totalUsd,
      perTerabyteUsd: estimate.totalUsd / terabytesPerMonth,
      perGranuleUsd: estimate.totalUsd / granulesPerMonth,
    })),
  };
}

/** A Markdown table: one column per design, a last column with the first design's ratio to the second. */
export function formatComparison(comparison: CostComparison): string {
  const [ours, reference] = comparison.designs;
  if (ours === undefined || reference === undefined) throw new RangeError("compare at least two designs");
  const rows: [string, (design: CostComparison["designs"][number]) => number, number][] = [
    ["total per month", (design) => design.totalUsd, 2],
    [`per TB mirrored (${comparison.terabytesPerMonth.toFixed(0)} TB)`, (design) => design.perTerabyteUsd, 2],
    [
      `per granule (${comparison.granulesPerMonth.toLocaleString("en-US")})`,
      (design) => design.perGranuleUsd,
      6,
    ],
  ];
  return [
    `| | ${comparison.designs.map((design) => design.name).join(" | ")} | ratio |`,
    `| --- |${comparison.designs.map(() => " ---: |").join("")} ---: |`,
    ...rows.map(
      ([label, value, digits]) =>
        `| ${label} | ${comparison.designs.map((design) => `$${value(design).toFixed(digits)}`).join(" | ")} | ${(value(ours) / value(reference)).toFixed(3)} |`,
    ),
  ].join("\n");
}
