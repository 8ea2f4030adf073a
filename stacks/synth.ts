import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Aspects, type IAspect } from "aws-cdk-lib";
import { App, getStack } from "sst/constructs";
import { initProject, useProject } from "sst/project.js";
import { Alarms } from "./Alarms";
import { addStacks } from "./app";
import { MockHub } from "./MockHub";
import { Push } from "./Push";
import { Schedule } from "./Schedule";
import { Storage } from "./Storage";
import { resolveStageSettings, type StageSettings } from "./settings";
import { Workflow } from "./Workflow";

/** A CloudFormation template as JSON. */
export type TemplateJson = {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown }>;
  Outputs?: Record<string, unknown>;
  [key: string]: unknown;
};

/** An Amazon States Language definition, every intrinsic flattened to a plain string. */
export type StateMachineDefinition = {
  StartAt: string;
  States: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
};

/**
 * The repository this file belongs to. import.meta.url is sound here, unlike in the stacks: this
 * module only ever runs as TypeScript (tests, the local mode), never inside SST's config bundle.
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export const STACKS = { Storage, MockHub, Workflow, Schedule, Push, Alarms } as const;
export type StackName = keyof typeof STACKS;

export interface SynthesizeOptions {
  stage: string;
  /** Overrides on top of the stage's defaults; the environment is NOT read, so synthesis is reproducible. */
  settings?: Partial<StageSettings>;
  region?: string;
  /** Aspects applied to the whole app before synthesis (the stack tests run cdk-nag's checks this way). */
  aspects?: IAspect[];
}

export interface SynthesizedApp {
  settings: StageSettings;
  region: string;
  /** By stack function name; a stack the stage does not get (MockHub on prod) is absent. */
  templates: Partial<Record<StackName, TemplateJson>>;
  /** The state machine's definition with Ref/GetAtt/Join/ImportValue flattened to placeholder values. */
  stateMachineDefinition(stack?: StackName): StateMachineDefinition;
}

/** Placeholder account of flattened ARNs. */
export const PLACEHOLDER_ACCOUNT = "123456789012";

/**
 * Synthesizes the app offline for a stage (functions are not bundled) and returns every stack's
 * template: what the stack tests assert on and what the local runner executes.
 * @throws ConfigError when the settings are invalid for the stage (e.g. the mock hub on prod).
 */
export async function synthesizeApp(options: SynthesizeOptions): Promise<SynthesizedApp> {
  const { stage } = options;
  if (stage.trim() === "") throw new TypeError("synthesizeApp: stage must be a non-empty stage name");
  // Without a stage initProject prompts for a personal stage and hangs; the root avoids cwd lookups.
  // The project comes first: the settings resolve file paths against its root, as under `sst deploy`.
  await initProject({ stage, root: REPO_ROOT });
  // SST's App rewrites <out>/types when made (rm, then append): two processes synthesizing at once in
  // one checkout (parallel test workers, a local run) broke each other's with ENOENT. Nothing reads
  // those types offline, so each synthesis writes its own, removed with the assembly.
  const out = mkdtempSync(path.join(tmpdir(), "hls-s2-sst-"));
  useProject().paths.out = out;
  try {
    return synthesizeIn(options);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function synthesizeIn(options: SynthesizeOptions): SynthesizedApp {
  const { stage } = options;
  const settings = resolveStageSettings(stage, {}, options.settings ?? {});
  const region = options.region ?? useProject().config.region ?? "us-east-1";
  const app = new App({ mode: "deploy", stage, name: useProject().config.name, region });
  addStacks(app, settings);
  for (const aspect of options.aspects ?? []) Aspects.of(app).add(aspect);

  const stacks = new Map<StackName, ReturnType<typeof getStack>>();
  for (const [name, fn] of Object.entries(STACKS) as [StackName, (typeof STACKS)[StackName]][]) {
    try {
      stacks.set(name, getStack(fn));
    } catch {
      // Not part of this stage.
    }
  }
  const assembly = app.synth();
  const templates: Partial<Record<StackName, TemplateJson>> = {};
  for (const [name, stack] of stacks) {
    templates[name] = assembly.getStackArtifact(stack.artifactId).template as TemplateJson;
  }
  rmSync(assembly.directory, { recursive: true, force: true });

  return {
    settings,
    region,
    templates,
    stateMachineDefinition(stackName: StackName = "Workflow") {
      const template = templates[stackName];
      const machine = Object.values(template?.Resources ?? {}).find(
        (resource) => resource.Type === "AWS::StepFunctions::StateMachine",
      );
      if (template === undefined || machine === undefined) {
        throw new TypeError(`stateMachineDefinition: stack ${stackName} has no state machine`);
      }
      const others = Object.values(templates).filter((other) => other !== undefined);
      const text = flattenIntrinsics(machine.Properties?.DefinitionString, template, region, others);
      return JSON.parse(String(text)) as StateMachineDefinition;
    },
  };
}

/**
 * Replaces CloudFormation intrinsics with placeholder strings (ARNs for functions, https URLs for
 * function URLs, lower-cased logical ids for the rest); an import resolves through the exporting
 * stack's output when that template is among `others`.
 */
export function flattenIntrinsics(
  value: unknown,
  template: TemplateJson,
  region: string,
  others: TemplateJson[] = [],
): unknown {
  const pseudo: Record<string, string> = {
    "AWS::Partition": "aws",
    "AWS::Region": region,
    "AWS::AccountId": PLACEHOLDER_ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
  };
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== "object") return node;
    const entries = Object.entries(node);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined) {
      if (key === "Ref") return pseudo[String(argument)] ?? placeholderFor(String(argument), "Ref");
      if (key === "Fn::GetAtt") {
        const [logicalId, attribute] = argument as [string, string];
        return placeholderFor(logicalId, attribute);
      }
      if (key === "Fn::ImportValue") return importValue(String(resolve(argument)));
      if (key === "Fn::Join") {
        const [separator, parts] = argument as [string, unknown[]];
        return (resolve(parts) as unknown[]).join(separator);
      }
      if (key === "Fn::Split") {
        const [separator, source] = argument as [string, unknown];
        return String(resolve(source)).split(separator);
      }
      if (key === "Fn::Select") {
        const [index, list] = argument as [number, unknown];
        return (resolve(list) as unknown[])[Number(index)];
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };
  const importValue = (exportName: string): unknown => {
    for (const exporter of others) {
      for (const output of Object.values(exporter.Outputs ?? {}) as {
        Value: unknown;
        Export?: { Name: unknown };
      }[]) {
        if (output.Export?.Name === exportName)
          return flattenIntrinsics(output.Value, exporter, region, others);
      }
    }
    return `import-${exportName.replace(/[^A-Za-z0-9-]/g, "-")}`;
  };
  const placeholderFor = (logicalId: string, attribute: string): string => {
    const type = template.Resources?.[logicalId]?.Type;
    if (type === "AWS::Lambda::Url") return `https://${logicalId.toLowerCase()}.lambda-url.${region}.on.aws/`;
    if (type === "AWS::Lambda::Function") {
      return `arn:aws:lambda:${region}:${PLACEHOLDER_ACCOUNT}:function:${logicalId}`;
    }
    if (attribute === "Arn")
      return `arn:aws:${logicalId.toLowerCase()}:${region}:${PLACEHOLDER_ACCOUNT}:${logicalId}`;
    return logicalId.toLowerCase();
  };
  return resolve(value);
}
