import * as lambda from "aws-cdk-lib/aws-lambda";
import { STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2 } from "aws-cdk-lib/cx-api";
import { NagSuppressions } from "cdk-nag";
import type { App } from "sst/constructs";
import { Alarms } from "./Alarms";
import { MockHub } from "./MockHub";
import { Push } from "./Push";
import { Schedule } from "./Schedule";
import { Storage } from "./Storage";
import { provideStageSettings, type StageSettings } from "./settings";
import { Workflow } from "./Workflow";

/** Adds the stacks a stage gets, in dependency order; sst.config.ts and synthesizeApp share it. */
export function addStacks(app: App, settings: StageSettings): App {
  provideStageSettings(app, settings);
  // The Distributed Map's non-deprecated ResultWriterV2 renders only under this flag, which must
  // be set before the first construct exists.
  app.node.setContext(STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2, true);
  app.setDefaultFunctionProps({ runtime: "nodejs22.x" });
  app.stack(Storage);
  if (settings.mockHub) app.stack(MockHub);
  app.stack(Workflow);
  // Every stage gets the same stacks whatever its toggles: `sst deploy` never deletes a stack that
  // left the app, so a toggle that dropped its stack would leave the old rule running. "Off" lives
  // inside the stack instead (a DISABLED rule; no push endpoint, only a parameter saying so).
  app.stack(Schedule);
  app.stack(Push);
  app.stack(Alarms);
  suppressFunctionFindings(app);
  return app;
}

/**
 * cdk-nag findings every Lambda function of the app shares (ours and the stack-metadata handler
 * SST's Stack creates in each stack), answered once here where the runtime is chosen.
 */
function suppressFunctionFindings(app: App): void {
  const functions = app.node.findAll().filter((node) => node instanceof lambda.Function);
  NagSuppressions.addResourceSuppressions(
    functions,
    [
      {
        id: "AwsSolutions-L1",
        reason:
          "nodejs22.x is the runtime the design pins (Node 20 reached end of life in April 2026) and the one the code is tested on; moving to a newer runtime is a deliberate upgrade, not a lint fix",
      },
      {
        id: "AwsSolutions-IAM4",
        reason:
          "AWSLambdaBasicExecutionRole is the AWS managed policy CDK attaches to every function role: CreateLogGroup, CreateLogStream and PutLogEvents for the function's own logs, nothing else",
        appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
      },
    ],
    true,
  );
}
