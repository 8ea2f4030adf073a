import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { STAGE_PARAMETERS, stageParameterPath } from "@hls-s2/core/config";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import { type EmbeddedStores, startEmbeddedStores } from "@hls-s2/local";
import { type CliIo, EXIT, main } from "@hls-s2/ops";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SynthesizedApp, synthesizeApp } from "../stacks/synthesized";
import {
  deniedRequests,
  describeUnused,
  findResource,
  iamRequestsOf,
  type PolicyDocument,
  type RecordedCall,
  type RoleWithPolicies,
  resolveDeployed,
  SIMULATED_ACCOUNT,
  unusedGrants,
} from "./policy";

/**
 * The operator policy of docs/operating.md (its `json operator-policy` block) against every
 * AWS call the ops CLI's commands make on a deployed stage. The CLI builds its own SDK clients from
 * the endpoint it is given, so its calls are observed on the wire: one loopback stand-in records
 * each request's operation (X-Amz-Target) and input, answers SSM and Step Functions itself,
 * forwards DynamoDB to an embedded table, and answers S3's GetObject (a REST call, no X-Amz-Target)
 * with NoSuchKey: a day without its delivery manifest.
 */

const STAGE = "opstest";
const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

let app: SynthesizedApp;
let stores: EmbeddedStores;
let proxy: Server;
let proxyUrl: string;
let stateMachineArn: string;
let tableName: string;
let workBucketName: string;
const calls: RecordedCall[] = [];
/** What the stand-in answers for SSM and Step Functions, by "<service>:<operation>". */
let answers: Record<string, (input: Record<string, unknown>) => unknown> = {};

beforeAll(async () => {
  app = await synthesizeApp({ stage: STAGE });
  const machine = findResource(app, "AWS::StepFunctions::StateMachine", "");
  stateMachineArn = String(resolveDeployed({ Ref: machine.logicalId }, machine.template, app));
  const table = findResource(app, "AWS::DynamoDB::Table", "Granules");
  tableName = String(resolveDeployed({ Ref: table.logicalId }, table.template, app));
  const work = findResource(app, "AWS::S3::Bucket", "WorkBucket");
  workBucketName = String(resolveDeployed({ Ref: work.logicalId }, work.template, app));

  stores = await startEmbeddedStores({ tableName, dynamo: "dynalite" });
  proxy = await startRecordingStandIn(stores.dynamoEndpoint);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  await seedFailedGranule();

  const path = stageParameterPath(STAGE);
  const values: Record<keyof typeof STAGE_PARAMETERS, string> = {
    stateMachineArn,
    tableName,
    uploadBucketName: "upload",
    workBucketName,
    lookbackDays: "1",
  };
  const executionArn = executionArnOf("daily-run");
  // The JSON protocols carry timestamps as epoch seconds.
  const started = Date.now() / 1000 - 3600;
  answers = {
    "ssm:GetParametersByPath": () => ({
      Parameters: Object.entries(STAGE_PARAMETERS).map(([key, name]) => ({
        Name: `${path}${name}`,
        Value: values[key as keyof typeof STAGE_PARAMETERS],
      })),
    }),
    "states:StartExecution": (input) => ({
      executionArn: executionArnOf(String(input["name"] ?? "run")),
      startDate: Date.now() / 1000,
    }),
    "states:ListExecutions": () => ({
      executions: [
        { executionArn, stateMachineArn, name: "daily-run", status: "FAILED", startDate: started },
      ],
    }),
    "states:DescribeExecution": () => ({
      executionArn,
      stateMachineArn,
      name: "daily-run",
      status: "FAILED",
      startDate: started,
      stopDate: started + 60,
      input: JSON.stringify({ from: DAY, to: DAY }),
    }),
    "states:RedriveExecution": () => ({ redriveDate: Date.now() / 1000 }),
  };
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await stores?.close();
});

function executionArnOf(name: string): string {
  const machineName = stateMachineArn.split(":").at(-1);
  return `arn:aws:states:${app.region}:${SIMULATED_ACCOUNT}:execution:${machineName}:${name}`;
}

/** The X-Amz-Target prefixes of the JSON protocols → IAM's service prefix. */
const TARGET_SERVICES: Record<string, string> = {
  DynamoDB_20120810: "dynamodb",
  AmazonSSM: "ssm",
  AWSStepFunctions: "states",
};

/**
 * Records every request's operation and input; answers SSM and Step Functions from `answers` and
 * forwards DynamoDB to the embedded table. An operation nobody answers is a 400, so a new AWS call
 * of the CLI fails the test instead of passing unseen.
 */
async function startRecordingStandIn(dynamoEndpoint: string): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.headers["x-amz-target"] === undefined) {
        answerS3(req.method ?? "", req.headers.host ?? "", req.url ?? "/", res);
        return;
      }
      const [prefix = "", operation = ""] = String(req.headers["x-amz-target"] ?? "").split(".");
      const service = TARGET_SERVICES[prefix] ?? prefix;
      const input = JSON.parse(body.toString("utf8") || "{}") as Record<string, unknown>;
      calls.push({ principal: "Operator", service, command: operation, input });
      if (service === "dynamodb") {
        const url = new URL(dynamoEndpoint);
        const forward = httpRequest(
          { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on("error", () => res.destroy());
        forward.end(body);
        return;
      }
      const answer = answers[`${service}:${operation}`];
      res.setHeader("content-type", "application/x-amz-json-1.1");
      if (answer === undefined) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: "UnknownOperationException", message: `${service}:${operation}` }));
        return;
      }
      res.end(JSON.stringify(answer(input)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/**
 * S3's REST protocol: the bucket is the first path segment (path style, as the SDK addresses an IP
 * endpoint) or the host's first label. Only GetObject is known; it answers 404 NoSuchKey.
 */
function answerS3(method: string, host: string, url: string, res: ServerResponse): void {
  const path = decodeURIComponent(new URL(url, "http://stand-in").pathname).slice(1);
  const virtual = /^([^.]+)\.127\.0\.0\.1(:\d+)?$/.exec(host)?.[1];
  const [bucket, key] =
    virtual !== undefined ? [virtual, path] : [path.split("/")[0] ?? "", path.split("/").slice(1).join("/")];
  const command = method === "GET" && key !== "" ? "GetObject" : `${method} ${url}`;
  calls.push({ principal: "Operator", service: "s3", command, input: { Bucket: bucket, Key: key } });
  res.setHeader("content-type", "application/xml");
  res.statusCode = command === "GetObject" ? 404 : 400;
  res.end(
    command === "GetObject"
      ? `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${key}</Key></Error>`
      : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>${command}</Message></Error>`,
  );
}

/** One FAILED granule of DAY, written straight to the table (not through the proxy): what requeue finds. */
async function seedFailedGranule(): Promise<void> {
  const store = new GranuleStore(createDocumentClient(stores.dynamo), { tableName });
  const granuleId = randomUUID();
  const compact = DAY.replaceAll("-", "");
  await store.recordDiscovered(
    {
      granuleId,
      name: `S2A_MSIL1C_${compact}T101419_N0510_R022_T32TQM_${compact}T120000`,
      tileId: "32TQM",
      platform: "S2A",
      sensingStart: `${DAY}T10:14:19.024Z`,
      sensingEnd: `${DAY}T10:14:19.024Z`,
      publishedAt: `${DAY}T12:00:00.000Z`,
      sizeBytes: 1000,
    },
    DAY,
  );
  const owner = `arn:aws:states:${app.region}:${SIMULATED_ACCOUNT}:execution:seed:${granuleId}`;
  await store.claimGranule(granuleId, owner);
  await store.markFailed(granuleId, { name: "HubUnavailableError", message: "seeded for the IAM test" });
}

/** docs/operating.md's operator policy with the synthesized stage's names filled in. */
async function documentedOperatorPolicy(): Promise<PolicyDocument> {
  const doc = await readFile(fileURLToPath(new URL("../../docs/operating.md", import.meta.url)), "utf8");
  const block = /```json operator-policy\n([\s\S]*?)\n```/.exec(doc)?.[1];
  if (block === undefined) throw new Error("docs/operating.md has no ```json operator-policy block");
  const fill: Record<string, string> = {
    REGION: app.region,
    ACCOUNT: SIMULATED_ACCOUNT,
    STAGE,
    STATE_MACHINE_NAME: stateMachineArn.split(":").at(-1)!,
    TABLE_NAME: tableName,
    WORK_BUCKET_NAME: workBucketName,
  };
  const filled = block.replace(/\$\{([A-Z_]+)\}/g, (placeholder, name: string) => {
    const value = fill[name];
    if (value === undefined) throw new Error(`operator policy: unknown placeholder ${placeholder}`);
    return value;
  });
  return JSON.parse(filled) as PolicyDocument;
}

function io(): CliIo {
  return {
    stdout: { write: () => true },
    stderr: { write: (text: string) => process.stderr.write(text) },
    env: {},
    clientConfig: {
      region: app.region,
      endpoint: proxyUrl,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    },
    today: new Date(),
  };
}

describe("the operator IAM policy of docs/operating.md", () => {
  it("allows every call of status, report, slots, backfill, redrive, requeue and recount on a deployed stage, and grants nothing they do not use", async () => {
    const stage = ["--stage", STAGE];
    for (const argv of [
      ["status", ...stage, "--day", DAY],
      ["report", ...stage, "--day", DAY],
      ["slots", ...stage, "4"],
      ["backfill", ...stage, "--from", DAY],
      ["redrive", ...stage, "--day", DAY],
      ["redrive", ...stage, "--execution", executionArnOf("daily-run")],
      ["requeue", ...stage, "--day", DAY, "--dry-run"],
      ["requeue", ...stage, "--day", DAY],
      ["recount", ...stage, "--day", DAY],
    ]) {
      expect(await main(argv, io()), argv.join(" ")).toBe(EXIT.ok);
    }

    const commands = new Set(calls.map((c) => `${c.service}:${c.command}`));
    // Each command really ran its AWS path (a requeue that found nothing would prove nothing).
    for (const expected of [
      "ssm:GetParametersByPath",
      "states:StartExecution",
      "states:ListExecutions",
      "states:DescribeExecution",
      "states:RedriveExecution",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "dynamodb:BatchGetItem",
      "s3:GetObject",
    ]) {
      expect(commands, expected).toContain(expected);
    }

    const operator: RoleWithPolicies = {
      stack: "docs/operating.md",
      logicalId: "operator-policy",
      arn: `arn:aws:iam::${SIMULATED_ACCOUNT}:user/operator`,
      policies: [{ name: "docs/operating.md operator policy", document: await documentedOperatorPolicy() }],
    };
    const requests = calls.flatMap((c) => iamRequestsOf(c, {}, app.region));
    const denied = await deniedRequests(operator, requests);
    expect(
      denied
        .map((d) => `${d.decision}: ${d.request.action} on ${d.request.resource} (${d.request.source})`)
        .join("\n"),
    ).toBe("");
    expect(describeUnused(operator, await unusedGrants(operator, requests)).join("\n")).toBe("");
  });
});
