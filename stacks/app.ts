import { STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2 } from "aws-cdk-lib/cx-api";
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
  return app;
}
