export * from "./aws-calls";
export { buildCatalogue, type CatalogueParams, SYNTH_CACHE_FILE } from "./data-folder";
export * from "./definition";
export { dynamoDbLocalAvailable } from "./dynamo-server";
export * from "./embedded";
export { lambdaEnvironment } from "./environment";
export { LOCAL_STATE_MACHINE_ARN } from "./execute";
export * from "./executions";
export type {
  InvocationFault,
  LambdaInvocation,
  LocalLambdaContext,
  LocalLambdaOptions,
} from "./lambda";
export * from "./leases";
export * from "./lock";
export * from "./map-run";
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_GRANULES_PER_DAY,
  DEFAULT_PRODUCT_SIZE,
  DEFAULT_SEED,
  type ExternalHub,
  FAULT_PROFILE_NAMES,
  type FaultProfileName,
  type Interposer,
  LOCAL_PART_SIZE_MIB,
  MOCK_CREDENTIALS,
  type OverlappingExecution,
  type ProductSize,
  type RedriveLocalOptions,
  type RunLocalOptions,
} from "./options";
export * from "./progress";
export * from "./report";
export * from "./runner";
export { completedUploads, type S3Request } from "./s3-gaps";
export { listUploads } from "./s3rver-uploads";
export type { LocalRunSummary } from "./summary";
export * from "./workflow";
