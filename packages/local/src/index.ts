export * from "./aws/aws-calls";
export * from "./aws/definition";
export { dynamoDbLocalAvailable } from "./aws/dynamo-server";
export * from "./aws/embedded";
export * from "./aws/executions";
export type {
  InvocationFault,
  LambdaInvocation,
  LocalLambdaContext,
  LocalLambdaOptions,
} from "./aws/lambda";
export * from "./aws/map-run";
export { completedUploads, type S3Request } from "./aws/s3-gaps";
export { listUploads } from "./aws/s3rver-uploads";
export * from "./aws/workflow";
export { buildCatalogue, type CatalogueParams, SYNTH_CACHE_FILE } from "./run/data-folder";
export { lambdaEnvironment } from "./run/environment";
export { LOCAL_STATE_MACHINE_ARN } from "./run/execute";
export * from "./run/leases";
export * from "./run/lock";
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
} from "./run/options";
export * from "./run/progress";
export * from "./run/report";
export * from "./run/runner";
export type { LocalRunSummary } from "./run/summary";
