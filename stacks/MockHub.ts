import { ConfigError } from "@hls-s2/core/errors";
import { Fn } from "aws-cdk-lib";
import { Function as SstFunction, type StackContext } from "sst/constructs";
import { HLS_TILE_ALLOW_LIST_FILE, PRODUCTION_STAGE, useStageSettings } from "./settings";

/** The mock hub's public address, in the form the hub clients expect (no trailing slash). */
export interface MockHubResources {
  hubUrl: string;
}

/**
 * The mock hub behind a Lambda function URL, so a test stage exercises the whole flow without a
 * real hub account. Auth NONE is deliberate: it serves synthetic bytes only, never on prod.
 */
export function MockHub({ stack, app }: StackContext): MockHubResources {
  if (app.stage === PRODUCTION_STAGE) {
    throw new ConfigError([{ key: "MOCK_HUB_ENABLED", message: "the mock hub is never deployed on prod" }]);
  }
  const hub = new SstFunction(stack, "MockHubFunction", {
    handler: "packages/mock-hub/src/lambda.handler",
    runtime: "nodejs22.x",
    architecture: "arm_64",
    memorySize: "512 MB",
    timeout: "900 seconds",
    // X-Ray off: its PutTraceSegments needs Resource "*".
    tracing: "disabled",
    url: { authorizer: "none" },
    // Catalogue shape (MOCK_HUB_SEED, _DAYS, _GRANULES, _SIZE, _FAULT_PROFILE…) from the deploy environment.
    environment: useStageSettings(app).mockHubEnvironment,
    // The catalogue draws its tiles from HLS's grid, read at the same place relative to the handler
    // as in the repository (packages/mock-hub/src/catalogue.ts HLS_TILES_FILE).
    copyFiles: [{ from: HLS_TILE_ALLOW_LIST_FILE, to: HLS_TILE_ALLOW_LIST_FILE }],
  });
  // The function URL ends in "/"; hub clients append "/dhus/..." themselves.
  const hubUrl = Fn.join("", ["https://", Fn.select(2, Fn.split("/", hub.url ?? ""))]);
  stack.addOutputs({ MockHubUrl: hubUrl });
  return { hubUrl };
}
