import { FUNCTION_CONFIG, type FunctionName } from "@hls-s2/core/config";
import { RemovalPolicy } from "aws-cdk-lib";
import * as logs from "aws-cdk-lib/aws-logs";
import { type FunctionProps, Function as SstFunction, type Stack } from "sst/constructs";
import { BUNDLED_TILE_ALLOW_LIST, type EnvironmentValues, functionEnvironment } from "./environment";
import type { StageSettings } from "./settings";
import { FUNCTION_ARCHITECTURE, FUNCTION_SIZES } from "./sizes";

/** What differs between the downloader's functions: the handler file, the computed values, anything else. */
export type SizedFunctionProps<Name extends FunctionName> = Omit<FunctionProps, "handler" | "environment"> & {
  /** The handler's file under packages/functions/src, without `.ts`. */
  file: string;
  /** What the stack computes for the function's environment (functionEnvironment takes the rest from the settings). */
  values?: EnvironmentValues<Name>;
};

/**
 * One of the downloader's Lambda functions (`<name>Function`), as every one of them is built: Node 22 on
 * arm64, its memory and timeout from FUNCTION_SIZES, its environment from core's FUNCTION_CONFIG, its own
 * log group. A function given TILE_ALLOW_LIST_FILE gets the stage's allow-list copied into its bundle.
 */
export function sizedFunction<const Name extends FunctionName>(
  stack: Stack,
  settings: StageSettings,
  name: Name,
  { file, values, ...props }: SizedFunctionProps<Name>,
): SstFunction {
  const keys: readonly string[] = FUNCTION_CONFIG[name].keys;
  const tiles = keys.includes("TILE_ALLOW_LIST_FILE") ? settings.tileAllowListFile : undefined;
  return new SstFunction(stack, `${name}Function`, {
    handler: `packages/functions/src/${file}.handler`,
    runtime: "nodejs22.x",
    architecture: FUNCTION_ARCHITECTURE,
    memorySize: `${FUNCTION_SIZES[name].memoryMb} MB`,
    timeout: `${FUNCTION_SIZES[name].timeoutSeconds} seconds`,
    // X-Ray off: its PutTraceSegments needs Resource "*", and the console's map run view suffices.
    tracing: "disabled",
    // An explicit log group instead of logRetention, whose custom resource needs Resource "*".
    logGroup: new logs.LogGroup(stack, `${name}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    }),
    environment: functionEnvironment<FunctionName>(settings, name, {
      ...values,
      ...(tiles !== undefined && { TILE_ALLOW_LIST_FILE: BUNDLED_TILE_ALLOW_LIST }),
    }),
    // The same allow-list everywhere it is read, so a push never records what a search would reject.
    ...(tiles !== undefined && { copyFiles: [{ from: tiles, to: BUNDLED_TILE_ALLOW_LIST }] }),
    ...props,
  });
}
