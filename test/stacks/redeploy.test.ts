import { PUBLISHED_PARAMETERS, PUSH_ENDPOINT_DISABLED, uploadBucketNameParameter } from "@hls-s2/core/config";
import { beforeAll, describe, expect, it } from "vitest";
import { resourcesOfType } from "./helpers";
import { type StackName, type SynthesizedApp, synthesizeApp, type TemplateJson } from "./synthesized";

// A stage without the mock hub, so every function URL in it is the push endpoint.
const STAGING = {
  mockHub: false,
  hubKind: "cdse",
  hubUrl: "https://catalogue.example.test",
  downloadHubUrl: "https://zipper.example.test",
  cdseTokenUrl: "https://identity.example.test/token",
} as const;

let allOn: SynthesizedApp;
let allOff: SynthesizedApp;
let importedBucket: SynthesizedApp;

beforeAll(async () => {
  allOn = await synthesizeApp({
    stage: "staging",
    settings: { ...STAGING, scheduleEnabled: true, pushEnabled: true },
  });
  allOff = await synthesizeApp({
    stage: "staging",
    settings: { ...STAGING, scheduleEnabled: false, pushEnabled: false },
  });
  importedBucket = await synthesizeApp({
    stage: "staging",
    settings: {
      ...STAGING,
      scheduleEnabled: true,
      pushEnabled: true,
      uploadBucketName: "hls-landing-bucket",
    },
  });
});

const everything = (app: SynthesizedApp) => Object.values(app.templates).filter((t) => t !== undefined);

describe("switching the schedule and push off", () => {
  it("keeps the same set of stacks, so sst deploy updates them instead of leaving them behind", () => {
    const names = (app: SynthesizedApp) => Object.keys(app.templates).sort();
    expect(names(allOff)).toEqual(names(allOn));
    expect(names(allOn)).toEqual(["Alarms", "Push", "Schedule", "Storage", "Workflow"]);
  });

  it("leaves no ENABLED rule and no function URL when off", () => {
    const rules = everything(allOff).flatMap((template) => resourcesOfType(template, "AWS::Events::Rule"));
    expect(rules.filter(([, rule]) => rule.Properties?.State !== "DISABLED")).toEqual([]);
    expect(everything(allOff).flatMap((template) => resourcesOfType(template, "AWS::Lambda::Url"))).toEqual(
      [],
    );
    const pushFunctions = resourcesOfType(allOff.templates.Push, "AWS::Lambda::Function").map(([id]) => id);
    // SST's own stack-metadata handler is in every stack; the receiver is not.
    expect(pushFunctions.filter((id) => !id.startsWith("CustomResourceHandler"))).toEqual([]);
  });

  it("keeps the daily rule, DISABLED, so turning SCHEDULE_ENABLED off on a deployed stage switches it off", () => {
    const state = (app: SynthesizedApp) =>
      resourcesOfType(app.templates.Schedule, "AWS::Events::Rule").map(([id, rule]) => [
        id,
        rule.Properties?.State,
      ]);
    const [[onId, onState], [ageId, ageState]] = state(allOn) as [[string, unknown], [string, unknown]];
    expect(onState).toBe("ENABLED");
    expect(ageState).toBe("ENABLED");
    // Same logical ids: CloudFormation updates the rules in place rather than replacing them.
    expect(state(allOff)).toEqual([
      [onId, "DISABLED"],
      [ageId, "DISABLED"],
    ]);
  });

  it("says in the push-endpoint parameter whether there is an endpoint", () => {
    const parameter = (app: SynthesizedApp) =>
      resourcesOfType(app.templates.Push, "AWS::SSM::Parameter").find(
        ([, resource]) =>
          resource.Properties?.Name === `/hls-s2/staging/${PUBLISHED_PARAMETERS.pushEndpoint}`,
      );
    expect(parameter(allOff)?.[1].Properties?.Value).toBe(PUSH_ENDPOINT_DISABLED);
    expect(JSON.stringify(parameter(allOn)?.[1].Properties?.Value)).toContain("FunctionUrl");
    expect(parameter(allOff)?.[0]).toBe(parameter(allOn)?.[0]);
    expect(
      Object.keys(allOff.templates.Push?.Resources ?? {}).filter((id) => !id.startsWith("CustomResource")),
    ).toEqual([parameter(allOff)?.[0]]);
  });
});

/** Every export name a template imports, with Fn::ImportValue anywhere in it. */
function importedExports(template: TemplateJson | undefined): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "Fn::ImportValue") found.add(String(value));
        else walk(value);
      }
    }
  };
  walk(template?.Resources);
  walk(template?.Outputs);
  return [...found].sort();
}

function exportsOf(app: SynthesizedApp): Set<string> {
  const names = everything(app).flatMap((template) =>
    Object.values((template.Outputs ?? {}) as Record<string, { Export?: { Name: string } }>)
      .map((output) => output.Export?.Name)
      .filter((name): name is string => name !== undefined),
  );
  return new Set(names);
}

describe("switching UPLOAD_BUCKET_NAME on after the first deploy", () => {
  const importers: StackName[] = ["Workflow", "Push", "Schedule", "Alarms"];

  it("imports the same exports before and after, so no export still in use disappears", () => {
    for (const name of importers) {
      const before = importedExports(allOn.templates[name]);
      const after = importedExports(importedBucket.templates[name]);
      expect(after, name).toEqual(before);
      for (const exportName of before) {
        expect(exportsOf(allOn).has(exportName), `${name} imports ${exportName}`).toBe(true);
        expect(exportsOf(importedBucket).has(exportName), `${name} imports ${exportName}`).toBe(true);
      }
    }
  });

  it("imports no export of the upload bucket at all: its name is read from Storage's SSM parameter", () => {
    const uploadExports = [...exportsOf(allOn)].filter((name) => /UploadBucket/.test(name));
    expect(uploadExports).toEqual([]);
    const storageParameter = (app: SynthesizedApp) =>
      resourcesOfType(app.templates.Storage, "AWS::SSM::Parameter")
        .map(([, resource]) => resource.Properties ?? {})
        .find((properties) => properties.Name === uploadBucketNameParameter("staging"));
    expect(storageParameter(allOn)?.Value).toEqual({ Ref: expect.stringMatching(/^UploadBucket/) });
    expect(storageParameter(importedBucket)?.Value).toBe("hls-landing-bucket");
    for (const app of [allOn, importedBucket]) {
      const parameters = app.templates.Workflow?.Parameters as Record<
        string,
        { Type: string; Default: string }
      >;
      expect(Object.values(parameters)).toContainEqual({
        Type: "AWS::SSM::Parameter::Value<String>",
        Default: uploadBucketNameParameter("staging"),
      });
    }
  });
});

describe("a deploy after sst remove on prod", () => {
  it("names the state machine's log group under /aws/vendedlogs/states/ with a suffix from the stack id", () => {
    const [, logGroup] = resourcesOfType(allOn.templates.Workflow, "AWS::Logs::LogGroup").find(([id]) =>
      id.startsWith("StateMachineLogs"),
    )!;
    const name = logGroup.Properties?.LogGroupName as { "Fn::Join": [string, unknown[]] };
    const [separator, [prefix, suffix]] = name["Fn::Join"] as [string, [string, unknown]];
    expect(separator).toBe("");
    expect(prefix).toBe("/aws/vendedlogs/states/staging-hls-s2-downloader-granules-");
    // A retained group keeps the old stack's id; the next stack has a new one, so no "already exists".
    expect(JSON.stringify(suffix)).toContain('"Ref":"AWS::StackId"');
  });
});
