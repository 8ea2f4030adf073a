export { ARCHIVE_VARIANTS, type ArchiveVariant } from "./archive";
export { BLOCK_SIZE, ByteSource, productKey } from "./bytes";
export {
  type Catalogue,
  type CatalogueOptions,
  createCatalogue,
  HLS_TILES_FILE,
  MOCK_PLATFORMS,
  type MockPlatform,
  type MockProduct,
  NON_HLS_TILES,
  readTileList,
} from "./catalogue";
export { parseCdseFilter } from "./cdse-filter";
export type { HubContext } from "./context";
export { parseDhusQuery } from "./dhus";
export { FAULT_PROFILES } from "./fault-profiles";
export {
  FAULT_KINDS,
  FaultEngine,
  type FaultKind,
  type FaultPlan,
  type GranuleFault,
  type GranuleFaultKind,
  type SearchFault,
  type SearchFaultKind,
} from "./faults";
export type { MockRequest, MockResponse } from "./http";
export type { PagingFaultCounts, PagingFaults } from "./paging";
export { createHubContext, type HubContextOptions, handleRequest } from "./router";
export { type MockHub, type MockHubOptions, startMockHub } from "./server";
export { type GranuleStats, Introspection, ROUTE_NAMES, type RouteName } from "./stats";
export { type Credentials, TokenStore } from "./tokens";
