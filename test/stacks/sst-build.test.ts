import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { loadTileAllowList } from "@hls-s2/core/config";
import { initProject, useProject } from "sst/project.js";
import { Stacks } from "sst/stacks/index.js";
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from "vitest";
import { flattenIntrinsics, PLACEHOLDER_ACCOUNT, REPO_ROOT, type TemplateJson } from "../../stacks/synth";

/*
 * The path `sst deploy` takes, offline: the CLI's middleware calls initProject (root found from the
 * current directory), deploy.js loads sst.config.ts through SST's own esbuild loader
 * (sst/stacks/build.js, which bundles it into `.sst.config.<time>.mjs` in the current directory) and
 * hands its `stacks` to Stacks.synth, which runs App.finish(): every function is bundled by SST's
 * esbuild, copyFiles copied, the asset staged in the cloud assembly. Only two things in that flow
 * reach AWS, both mocked at the SDK level: STS GetCallerIdentity (synth.js, for the account) and
 * CloudFormation DescribeStacks of the CDK and SST bootstrap stacks (bootstrap.js, called from
 * App.finish for the sourcemap uploader). The deploy itself (CloudFormation) is not run.
 */

const run = promisify(execFile);
const REGION = "us-west-2";
/** Every AWS SDK call SST's flow made, as "Client.Command input". */
const awsCalls: { client: string; command: string; input: Record<string, unknown> }[] = [];
const stubs: MockInstance[] = [];
const outDir = mkdtempSync(path.join(tmpdir(), "hls-s2-sst-build-"));
const savedEnv = { ...process.env };
const savedCwd = process.cwd();

interface BuiltFunction {
  logicalId: string;
  handler: string;
  /** The staged asset directory: what CDK zips and Lambda unpacks to /var/task. */
  codeDir: string;
  environment: Record<string, string>;
}

interface BuiltStage {
  stacks: string[];
  functions: BuiltFunction[];
}

/** Runs `work` as the sst CLI would from `cwd` with exactly `env` on top of the test's environment. */
async function asSstCli<T>(cwd: string, env: Record<string, string>, work: () => Promise<T>): Promise<T> {
  process.chdir(cwd);
  // App.finish and Function skip the bootstrap lookup under NODE_ENV=test (vitest's); a deploy has none.
  delete process.env.NODE_ENV;
  Object.assign(process.env, env);
  try {
    return await work();
  } finally {
    process.chdir(savedCwd);
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
}

/** What `sst deploy --stage <stage>` runs up to the CloudFormation deploy (cli/commands/deploy.js). */
async function buildLikeSstDeploy(stage: string, mode: "deploy" | "dev"): Promise<BuiltStage> {
  // cli/program.js: `initProject(argv)`, the root found from the current directory.
  await initProject({ stage });
  const project = useProject();
  // Keep the bundles out of the checkout's .sst/ (and apart from a parallel run); nothing else changes.
  project.paths.artifacts = path.join(outDir, "artifacts");
  const [, sstConfig] = await Stacks.load(project.paths.config);
  const assembly = await Stacks.synth({
    fn: sstConfig.stacks,
    mode,
    buildDir: path.join(outDir, `${stage}-${mode}`),
  });
  const templates = assembly.stacks.map((stack) => stack.template as TemplateJson);
  const functions: BuiltFunction[] = [];
  for (const template of templates) {
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== "AWS::Lambda::Function") continue;
      const props = resource.Properties as {
        Handler: string;
        Code: { S3Key?: string };
        Environment?: { Variables?: Record<string, unknown> };
      };
      // SST's own custom-resource handler is prebuilt, not bundled from this repository.
      if (!props.Handler.startsWith("packages/") || props.Code.S3Key === undefined) continue;
      const variables = flattenIntrinsics(props.Environment?.Variables ?? {}, template, REGION, templates);
      functions.push({
        logicalId,
        handler: props.Handler,
        codeDir: path.join(assembly.directory, `asset.${props.Code.S3Key.replace(/\.zip$/, "")}`),
        environment: Object.fromEntries(
          Object.entries(variables as Record<string, unknown>).map(([key, value]) => [key, String(value)]),
        ),
      });
    }
  }
  return { stacks: assembly.stacks.map((stack) => stack.stackName), functions };
}

/**
 * Imports a bundle the way Lambda's Node.js runtime loads it: a fresh process, cwd the code
 * directory, the function's environment plus the runtime's reserved variables. AWS, "Defined runtime
 * environment variables": "AWS_REGION – The AWS Region where the Lambda function is executed. …
 * AWS_LAMBDA_FUNCTION_NAME – The name of the function. … AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN – The access keys obtained from the function's execution role. …
 * LAMBDA_TASK_ROOT – The path to your Lambda function code."
 */
async function importInLambdaLikeProcess(
  fn: BuiltFunction,
  invoke?: unknown,
): Promise<{ handler: string; statusCode?: number; body?: string }> {
  const modulePath = path.join(fn.codeDir, fn.handler.replace(/\.[^.]+$/, ".mjs"));
  const script = [
    "const m = await import(process.argv[1]);",
    "const out = { handler: typeof m.handler };",
    "if (process.argv[2]) Object.assign(out, await m.handler(JSON.parse(process.argv[2])));",
    "console.log(JSON.stringify(out));",
  ].join("\n");
  const { stdout } = await run(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      script,
      modulePath,
      ...(invoke === undefined ? [] : [JSON.stringify(invoke)]),
    ],
    {
      cwd: fn.codeDir,
      timeout: 20_000,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        ...fn.environment,
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
        AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
        AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        AWS_SESSION_TOKEN: "session",
        LAMBDA_TASK_ROOT: fn.codeDir,
        TZ: "UTC",
      },
    },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
    handler: string;
    statusCode?: number;
    body?: string;
  };
}

/**
 * Answers `send` of every instance of an SDK client class (SST builds its own, with the CLI's
 * credential chain, which is never reached): aws-sdk-client-mock's types refuse SST's older SDK
 * releases, so the prototype is stubbed directly. A command without an answer fails the build.
 */
function stubSdkClient(
  client: { name: string; prototype: object },
  answer: (command: string, input: Record<string, unknown>) => unknown,
): void {
  const prototype = client.prototype as { send(command: unknown): Promise<unknown> };
  stubs.push(
    vi.spyOn(prototype, "send").mockImplementation(async (command) => {
      const { input } = command as { input: Record<string, unknown> };
      const name = (command as object).constructor.name;
      awsCalls.push({ client: client.name, command: name, input });
      const output = answer(name, input);
      if (output === undefined) throw new Error(`unexpected AWS call ${client.name} ${name}`);
      return output;
    }),
  );
}

function bootstrapStack(name: string, outputs: Record<string, string>) {
  return {
    Stacks: [
      {
        StackName: name,
        StackStatus: "CREATE_COMPLETE" as const,
        CreationTime: new Date(0),
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  };
}

const BUILD_ENV = {
  // SST builds cpus − 1 functions at a time (constructs/deferred_task.js), one on these 2 cores; each
  // build waits on an npm child, so two overlap well.
  SST_BUILD_CONCURRENCY: "2",
  // npm runs once per function (SST writes a package.json for "install" packages); keep it off the network.
  npm_config_offline: "true",
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
};

let prod: BuiltStage;
let dev: BuiltStage;
let devLive: BuiltStage;

beforeAll(async () => {
  stubSdkClient(STSClient, (command) =>
    command === GetCallerIdentityCommand.name
      ? {
          Account: PLACEHOLDER_ACCOUNT,
          Arn: `arn:aws:iam::${PLACEHOLDER_ACCOUNT}:user/deployer`,
          UserId: "AIDAEXAMPLE",
        }
      : undefined,
  );
  // bootstrap.js: the CDK toolkit stack needs BootstrapVersion ≥ 14 and a bucket, SST's Version 7.4.
  stubSdkClient(CloudFormationClient, (command, input) => {
    if (command !== DescribeStacksCommand.name) return undefined;
    if (input.StackName === "CDKToolkit") {
      return bootstrapStack("CDKToolkit", { BootstrapVersion: "28", BucketName: "cdk-assets" });
    }
    if (input.StackName === "SSTBootstrap") {
      return bootstrapStack("SSTBootstrap", { Version: "7.4", BucketName: "sst-bootstrap" });
    }
    return undefined;
  });

  // prod as shipped: CDSE and the HLS tile list by default, push on, an alarm email.
  prod = await asSstCli(
    REPO_ROOT,
    { ...BUILD_ENV, PUSH_ENABLED: "true", ALARM_EMAIL: "ops@example.org" },
    () => buildLikeSstDeploy("prod", "deploy"),
  );
  // A dev stage run from a workspace folder, as `npx sst deploy` from packages/functions would be,
  // with the allow-list given as an absolute path (what copyFiles must still receive relative).
  const devEnv = { ...BUILD_ENV, TILE_ALLOW_LIST_FILE: path.join(REPO_ROOT, "config/tiles.example.txt") };
  dev = await asSstCli(path.join(REPO_ROOT, "packages/functions"), devEnv, () =>
    buildLikeSstDeploy("dev", "deploy"),
  );
  // `sst dev` synthesizes the same stacks in mode "dev" (live Lambda stubs, no bundling).
  devLive = await asSstCli(REPO_ROOT, { TILE_ALLOW_LIST_FILE: "config/tiles.example.txt" }, () =>
    buildLikeSstDeploy("dev", "dev"),
  );
}, 180_000);

afterAll(() => {
  for (const stub of stubs) stub.mockRestore();
  rmSync(outDir, { recursive: true, force: true });
});

describe("sst deploy's own build", () => {
  it("asks AWS only for the caller identity and the bootstrap stacks, here stubbed", () => {
    const calls = new Set(
      awsCalls.map((call) => `${call.client} ${call.command} ${call.input.StackName ?? ""}`),
    );
    expect(calls).toEqual(
      new Set([
        "STSClient GetCallerIdentityCommand ",
        "CloudFormationClient DescribeStacksCommand CDKToolkit",
        "CloudFormationClient DescribeStacksCommand SSTBootstrap",
      ]),
    );
  });

  it("synthesizes prod with push and the alarms, and no mock hub", () => {
    expect(prod.stacks.sort()).toEqual(
      ["Alarms", "Push", "Schedule", "Storage", "Workflow"].map((name) => `prod-hls-s2-downloader-${name}`),
    );
    expect(prod.functions.map((fn) => fn.handler).sort()).toEqual([
      "packages/functions/src/download.handler",
      "packages/functions/src/fetch-page.handler",
      "packages/functions/src/generate-queries.handler",
      "packages/functions/src/receive-push.handler",
      "packages/functions/src/report-age.handler",
      "packages/functions/src/start-pushed-downloads.handler",
      "packages/functions/src/summarize.handler",
      "packages/functions/src/write-manifest.handler",
    ]);
  });

  it("bundles HLS's 18,952 tiles next to the prod fetch and push handlers", () => {
    const withList = prod.functions.filter((fn) => fn.environment.TILE_ALLOW_LIST_FILE !== undefined);
    expect(withList.map((fn) => fn.handler).sort()).toEqual([
      "packages/functions/src/fetch-page.handler",
      "packages/functions/src/receive-push.handler",
    ]);
    for (const fn of withList) {
      // Relative: the handler reads it from its working directory, the code directory on Lambda
      // (/var/task, LAMBDA_TASK_ROOT) as in the child processes below.
      const file = path.join(fn.codeDir, fn.environment.TILE_ALLOW_LIST_FILE!);
      const tiles = loadTileAllowList(readFileSync(file, "utf8"));
      expect(tiles.size).toBe(18_952);
      expect(tiles.has("51CWM")).toBe(false);
    }
  });

  it("copies an allow-list given as an absolute path on a dev stage deployed from a workspace folder", () => {
    const fetch = dev.functions.find((fn) => fn.handler === "packages/functions/src/fetch-page.handler")!;
    const file = path.join(fetch.codeDir, fetch.environment.TILE_ALLOW_LIST_FILE!);
    expect([...loadTileAllowList(readFileSync(file, "utf8"))]).toEqual(["32TQM", "33UUP", "10SEG"]);
  });

  it("gives the deployed mock hub HLS's grid to draw its catalogue from", async () => {
    const mockHub = dev.functions.find((fn) => fn.handler === "packages/mock-hub/src/lambda.handler")!;
    // A function URL request (payload format 2.0) for the catalogue listing.
    const result = await importInLambdaLikeProcess(mockHub, {
      version: "2.0",
      rawPath: "/__mock/catalogue",
      rawQueryString: "",
      headers: {},
      isBase64Encoded: false,
      requestContext: { domainName: "mock.lambda-url.us-west-2.on.aws", http: { method: "GET" } },
    });
    expect(result.statusCode).toBe(200);
    const { products } = JSON.parse(result.body ?? "{}") as { products: { tileId: string }[] };
    const hls = new Set(
      loadTileAllowList(readFileSync(path.join(REPO_ROOT, "config/hls-tiles.txt"), "utf8")),
    );
    expect(products.length).toBeGreaterThan(0);
    expect(products.some((product) => hls.has(product.tileId))).toBe(true);
  });

  it("synthesizes the dev stage with an allow-list for `sst dev` too", () => {
    expect(devLive.stacks).toContain("dev-hls-s2-downloader-Workflow");
  });

  it("produces bundles that load in a Lambda-like process and export handler", async () => {
    const functions = [...prod.functions, ...dev.functions];
    // Prod and dev: the seven handlers of prod (the age report included) and those of dev.
    expect(functions.length).toBe(15);
    for (const fn of functions) {
      expect(existsSync(fn.codeDir), fn.codeDir).toBe(true);
      await expect(importInLambdaLikeProcess(fn), `${fn.logicalId} (${fn.handler})`).resolves.toEqual({
        handler: "function",
      });
    }
  }, 120_000);
});
