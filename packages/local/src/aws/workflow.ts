import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SynthesizedApp, TemplateJson } from "@hls-s2/stacks/synth";
import type { WorkflowTaskName } from "@hls-s2/stacks/Workflow";
import type { Asl } from "./definition";

export type { WorkflowTaskName };

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

/** What the local run needs from the synthesized stacks. */
export interface SynthesizedWorkflow {
  /** Hash of every input of the synthesis; a cached copy is used only while it matches. */
  key: string;
  /** The state machine definition as synthesized, intrinsics flattened (not yet adapted). */
  definition: Asl;
  /** The environment the stack gives its Lambda functions, intrinsics flattened. */
  environment: Record<string, string>;
  /** Each Task state and its handler file in packages/functions/src. */
  tasks: Record<WorkflowTaskName, string>;
  /** Each Task's Lambda timeout in seconds. */
  timeouts: Partial<Record<WorkflowTaskName, number>>;
  /** The tile allow-list the stack bundles with the fetch function, relative to the repository root. */
  tileAllowListFile?: string;
}

/** Where the local run reads the stack's tile allow-list (the deployed function reads its bundled copy). */
export function tileAllowListPath(workflow: SynthesizedWorkflow): string | undefined {
  return workflow.tileAllowListFile === undefined
    ? undefined
    : resolve(REPO_ROOT, workflow.tileAllowListFile);
}

let inProcess: Promise<SynthesizedWorkflow> | undefined;

/**
 * Synthesizes the stacks (importing sst and aws-cdk-lib costs ~10 s and synthesis ~2 s), once per
 * process and, with `cacheFile`, once per change of their inputs: the key hashes the stacks, core
 * (whose error names build the Retry lists), sst.config.ts and the CDK and SST versions.
 */
export async function loadSynthesizedWorkflow(
  options: { cacheFile?: string } = {},
): Promise<SynthesizedWorkflow & { fromCache: boolean }> {
  const key = await synthesisKey();
  const cached = options.cacheFile === undefined ? undefined : await readCache(options.cacheFile);
  const memo = await inProcess?.catch(() => undefined);
  if (memo?.key === key) {
    // The folder gets the synthesis it ran even when this process made it earlier: a later process
    // (a rerun, a spawned CLI) then reads it instead of synthesizing.
    if (options.cacheFile !== undefined && cached?.key !== key) await writeCache(options.cacheFile, memo);
    return { ...memo, fromCache: true };
  }
  if (cached?.key === key) {
    inProcess = Promise.resolve(cached);
    return { ...cached, fromCache: true };
  }
  inProcess = synthesize(key);
  const workflow = await inProcess;
  if (options.cacheFile !== undefined) await writeCache(options.cacheFile, workflow);
  return { ...workflow, fromCache: false };
}

async function writeCache(file: string, workflow: SynthesizedWorkflow): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  // Write then rename: a run interrupted mid-write must not leave a half file behind.
  await writeFile(`${file}.tmp`, JSON.stringify(workflow));
  await rename(`${file}.tmp`, file);
}

async function readCache(file: string): Promise<SynthesizedWorkflow | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as SynthesizedWorkflow;
  } catch {
    // Missing or unreadable: synthesize afresh.
    return undefined;
  }
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

async function synthesisKey(): Promise<string> {
  const hash = createHash("sha256");
  const files = [
    ...(await filesUnder(join(REPO_ROOT, "stacks"))),
    ...(await filesUnder(join(REPO_ROOT, "packages/core/src"))),
    join(REPO_ROOT, "sst.config.ts"),
    // How the synthesis is read (e.g. which stacks resolve an intrinsic) is an input too.
    fileURLToPath(import.meta.url),
    join(REPO_ROOT, "node_modules/aws-cdk-lib/package.json"),
    join(REPO_ROOT, "node_modules/sst/package.json"),
  ];
  for (const file of files) {
    hash.update(file.slice(REPO_ROOT.length));
    hash.update(await readFile(file).catch(() => Buffer.from("(missing)")));
  }
  return hash.digest("hex");
}

async function synthesize(key: string): Promise<SynthesizedWorkflow> {
  const { flattenIntrinsics, synthesizeApp } = await import("@hls-s2/stacks/synth");
  const { WORKFLOW_TASKS } = await import("@hls-s2/stacks/Workflow");
  const { HLS_TILE_ALLOW_LIST_FILE } = await import("@hls-s2/stacks/settings");
  // The hub, its kind and the concurrency are replaced per run, so one synthesis serves every run.
  // HLS's grid, as prod ships it: runLocal's allTiles drops it per run.
  const app: SynthesizedApp = await synthesizeApp({
    stage: "local",
    settings: {
      hubKind: "dhus",
      hubUrl: "http://127.0.0.1",
      mockHub: false,
      scheduleEnabled: false,
      tileAllowListFile: HLS_TILE_ALLOW_LIST_FILE,
    },
  });
  const template = app.templates.Workflow as TemplateJson;
  const resources = Object.entries(template.Resources ?? {});
  const variablesOf = (resource: { Properties?: Record<string, unknown> }) =>
    (resource.Properties?.["Environment"] as { Variables?: Record<string, unknown> } | undefined)?.Variables;
  // Each function gets only the keys it reads; one local runtime serves them all, so it takes the union.
  const withEnvironment = resources.filter(
    ([, resource]) =>
      resource.Type === "AWS::Lambda::Function" && variablesOf(resource)?.["TABLE_NAME"] !== undefined,
  );
  if (withEnvironment.length === 0) {
    throw new Error("the Workflow stack has no Lambda function with the downloader's environment");
  }
  // Resolved across the stacks as the definition is, so a bucket has one name in both (the Map Run
  // maps the definition's bucket names to the embedded buckets through these keys).
  const others = Object.values(app.templates).filter((other): other is TemplateJson => other !== undefined);
  const environment = Object.assign(
    {},
    ...withEnvironment.map(([, resource]) =>
      flattenIntrinsics(variablesOf(resource), template, app.region, others),
    ),
  ) as Record<string, string>;
  const timeouts: Partial<Record<WorkflowTaskName, number>> = {};
  for (const name of Object.keys(WORKFLOW_TASKS) as WorkflowTaskName[]) {
    // SST names a function's resource after its construct id (`<Task>Function`) plus a hash.
    const match = resources.find(
      ([logicalId, resource]) =>
        resource.Type === "AWS::Lambda::Function" && logicalId.startsWith(`${name}Function`),
    );
    const timeout = match?.[1].Properties?.["Timeout"];
    if (typeof timeout === "number") timeouts[name] = timeout;
  }
  return {
    key,
    definition: app.stateMachineDefinition() as Asl,
    environment,
    tasks: { ...WORKFLOW_TASKS },
    timeouts,
    ...(app.settings.tileAllowListFile !== undefined && {
      tileAllowListFile: app.settings.tileAllowListFile,
    }),
  };
}
