export * from "./cli";
export * from "./commands/backfill";
export * from "./commands/redrive";
export * from "./commands/requeue";
export * from "./commands/status";
export * from "./executions";
export * from "./format";
export * from "./resolve";
