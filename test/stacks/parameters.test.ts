import {
  PUBLISHED_PARAMETERS,
  STAGE_PARAMETERS,
  stageParameterPath,
  uploadBucketNameParameter,
} from "@hls-s2/core/config";
import { beforeAll, describe, expect, it } from "vitest";
import { resourcesOfType } from "./helpers";
import { type SynthesizedApp, synthesizeApp } from "./synthesized";

let synthesized: SynthesizedApp;

beforeAll(async () => {
  synthesized = await synthesizeApp({ stage: "opstest", settings: { lookbackDays: 3 } });
});

function parametersByName(): Map<string, unknown> {
  const parameters = resourcesOfType(synthesized.templates.Workflow, "AWS::SSM::Parameter");
  return new Map(
    parameters.map(([, resource]) => [
      String(resource.Properties?.["Name"]),
      resource.Properties?.["Value"] as unknown,
    ]),
  );
}

describe("the stage parameters the operator CLI reads", () => {
  it("publishes every resource under /hls-s2/<stage>/", () => {
    const names = [...parametersByName().keys()].sort();
    expect(names).toEqual(
      [
        ...Object.values(STAGE_PARAMETERS),
        PUBLISHED_PARAMETERS.downloadRoleArn,
        PUBLISHED_PARAMETERS.sweeperRoleArn,
      ]
        .map((name) => `/hls-s2/opstest/${name}`)
        .sort(),
    );
    expect(stageParameterPath("opstest")).toBe("/hls-s2/opstest/");
  });

  it("points the state machine parameter at the stack's state machine", () => {
    const workflow = synthesized.templates.Workflow!;
    const [machineId] = resourcesOfType(workflow, "AWS::StepFunctions::StateMachine")[0]!;
    expect(parametersByName().get("/hls-s2/opstest/state-machine-arn")).toEqual({ Ref: machineId });
  });

  it("carries the stage's look-back days and the table and bucket names from Storage", () => {
    const values = parametersByName();
    expect(values.get("/hls-s2/opstest/lookback-days")).toBe("3");
    // Cross-stack references: the names come from the Storage stack's exports, never literals.
    for (const name of ["table-name", "work-bucket"]) {
      expect(JSON.stringify(values.get(`/hls-s2/opstest/${name}`))).toContain("Fn::ImportValue");
    }
    // The upload bucket's name comes from the parameter Storage writes, read at deploy time.
    const uploadBucket = values.get("/hls-s2/opstest/upload-bucket") as { Ref: string };
    const parameters = synthesized.templates.Workflow?.Parameters as Record<string, { Default: string }>;
    expect(parameters[uploadBucket.Ref]?.Default).toBe(uploadBucketNameParameter("opstest"));
  });
});
