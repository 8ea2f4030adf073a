// @hls-s2/core/store: The DynamoDB side: the granule store, the hub's download slots, the table's definition and document client.
// What other packages import; core's own modules and tests import the modules themselves.
export { createDocumentClient } from "../adapters/store/client";
export type { FetchProgress } from "../adapters/store/cursor";
export type { PlatformRecount } from "../adapters/store/recount";
export type { SlotLease, SlotUsage } from "../adapters/store/slots";
export { DEFAULT_HUB_DOWNLOAD_SLOTS, MAX_HUB_DOWNLOAD_SLOTS, SlotPool } from "../adapters/store/slots";
export { GranuleStore } from "../adapters/store/store";
export { granuleTableDefinition } from "../adapters/store/table";
