export * from "./definition";
export * from "./embedded";
export * from "./leases";
export * from "./lock";
export * from "./progress";
export * from "./report";
export * from "./runner";
export { completedUploads, listUploads } from "./s3-gaps";
export * from "./workflow";
