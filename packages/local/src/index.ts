export * from "./aws-calls";
export * from "./definition";
export * from "./embedded";
export * from "./leases";
export * from "./progress";
export * from "./report";
export * from "./runner";
export { listUploads } from "./s3-gaps";
export * from "./workflow";
