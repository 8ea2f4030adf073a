// HLS's day run on this machine: the options, the runner (runLocal, runLocalOverlapping, redriveLocal),
// the data folder (its lock, catalogue and leftover leases), the progress line, the summary and its
// report. The CLI (cli.ts) is an entry of its own.
export { buildCatalogue, type CatalogueParams, SYNTH_CACHE_FILE } from "./data-folder";
export { lambdaEnvironment } from "./environment";
export * from "./leases";
export * from "./lock";
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
export type { LocalRunSummary } from "./summary";
