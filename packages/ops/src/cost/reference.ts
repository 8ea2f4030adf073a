import type { CostEstimate, CostLine, CostOptions } from "./model";
import { PRICES } from "./prices";

/**
 * What the reference system's own stack deploys (NASA-IMPACT/hls-sentinel2-downloader-serverless,
 * cdk/downloader_stack.py): `aws_rds.DatabaseCluster` with `aurora_postgres` 11.21 and `instance_props`
 * naming no instance type nor count, so CDK's defaults apply (aws-rds `instances`: "@default 2";
 * InstanceProps `instanceType`: "@default - t3.medium (or, more precisely, db.t3.medium)"); Python
 * Lambdas on x86 (no architecture set): a 1,200 MB downloader that holds the whole product, then one
 * PUT; a 1,200 MB token rotator every 5 minutes; a 200 MB link fetcher; an SQS queue between them.
 */
export const REFERENCE_STACK = {
  auroraInstances: 2,
  instanceClass: "db.t3.medium",
  vcpusPerInstance: 2,
  downloaderMemoryMb: 1200,
  tokenRotatorMemoryMb: 1200,
  tokenRotationsPerDay: (24 * 60) / 5,
  linkFetcherMemoryMb: 200,
  /** DHuS/SciHub-style pages of 100 entries (rows=100). */
  entriesPerSearchPage: 100,
} as const;

/**
 * Assumptions where the stack fixes nothing (each line names its own): the downloader's single PUT of the
 * buffered product to S3 in-region, the seconds of a token rotation and of a search page, Aurora storage
 * I/Os per granule (insert, status updates, reads) and the bytes of a granule's row.
 */
export const REFERENCE_ASSUMPTIONS = {
  putBytesPerSecond: 100e6,
  tokenRotationSeconds: 1,
  searchPageSeconds: 2,
  auroraIosPerGranule: 10,
  rowBytesPerGranule: 2048,
} as const;

/**
 * The reference system's month at the same volume, from its own stack: two provisioned db.t3.medium
 * Aurora PostgreSQL 11 instances with RDS Extended Support year 3 on top, the downloader Lambda held for
 * the hub-bound download and then the PUT of the buffered product, its token rotator and link fetcher,
 * SQS send/receive/delete per granule and one S3 PUT per product.
 */
export function estimateReferenceCost(options: CostOptions): CostEstimate {
  const days = options.days ?? 30;
  const granules = options.granulesPerDay * days;
  const hours = 24 * days;
  const stack = REFERENCE_STACK;
  const assumed = REFERENCE_ASSUMPTIONS;
  const prices = PRICES.reference;
  const downloadSeconds = options.meanSizeBytes / (options.hubBytesPerSecond ?? 20e6);
  const putSeconds = options.meanSizeBytes / assumed.putBytesPerSecond;
  const pages = Math.ceil(options.granulesPerDay / stack.entriesPerSearchPage) * days;
  const rotations = stack.tokenRotationsPerDay * days;
  const lines: CostLine[] = [];
  const add = (service: string, item: string, quantity: number, unit: string, price: number) =>
    lines.push({ service, item, quantity, unit, usd: quantity * price });

  const instanceHours = stack.auroraInstances * hours;
  add(
    "Aurora PostgreSQL 11",
    `${stack.auroraInstances} × ${stack.instanceClass} (CDK's defaults), on demand`,
    instanceHours,
    "instance-h",
    prices.auroraInstancePerHour,
  );
  add(
    "Aurora PostgreSQL 11",
    `RDS Extended Support year 3 (${stack.vcpusPerInstance} vCPU each)`,
    instanceHours * stack.vcpusPerInstance,
    "vCPU-h",
    prices.extendedSupportYear3PerVcpuHour,
  );
  add(
    "Aurora PostgreSQL 11",
    `I/O (assumed ${assumed.auroraIosPerGranule} per granule)`,
    granules * assumed.auroraIosPerGranule,
    "I/Os",
    prices.auroraPerIo,
  );
  add(
    "Aurora PostgreSQL 11",
    "storage (month's rows)",
    (granules * assumed.rowBytesPerGranule) / 1e9,
    "GB-month",
    prices.auroraPerGbMonth,
  );
  add(
    "Lambda",
    `downloader GB-seconds (${stack.downloaderMemoryMb} MB x86: download, then PUT at an assumed ${assumed.putBytesPerSecond / 1e6} MB/s)`,
    granules * (downloadSeconds + putSeconds) * (stack.downloaderMemoryMb / 1024),
    "GB-s",
    prices.perX86GbSecond,
  );
  add(
    "Lambda",
    `token rotator GB-seconds (${stack.tokenRotatorMemoryMb} MB every 5 min, ${assumed.tokenRotationSeconds} s assumed)`,
    rotations * assumed.tokenRotationSeconds * (stack.tokenRotatorMemoryMb / 1024),
    "GB-s",
    prices.perX86GbSecond,
  );
  add(
    "Lambda",
    `link fetcher GB-seconds (${stack.linkFetcherMemoryMb} MB, ${assumed.searchPageSeconds} s a page of ${stack.entriesPerSearchPage})`,
    pages * assumed.searchPageSeconds * (stack.linkFetcherMemoryMb / 1024),
    "GB-s",
    prices.perX86GbSecond,
  );
  add("Lambda", "requests", granules + rotations + pages, "requests", PRICES.lambda.perRequest);
  // Send (link fetcher), receive and delete (the event source mapping) per granule.
  add("SQS", "requests", granules * 3, "requests", prices.perSqsRequest);
  add("S3", "PUT (one per product)", granules, "requests", PRICES.s3.perPutRequest);
  return {
    lines,
    totalUsd: lines.reduce((sum, line) => sum + line.usd, 0),
    perGranule: { stateTransitions: 0, downloadSeconds: downloadSeconds + putSeconds, uploadParts: 1 },
  };
}
