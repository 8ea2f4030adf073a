/**
 * What runs inside one "Lambda container" of bench/lambda.ts: a handler, bundled alone with this file
 * (bench/lambda-sandbox.ts bundleHandler), pointed at the embedded stores by the parent, invoked over IPC
 * as often as the parent asks, reporting its own peak RSS (VmHWM) and CPU time.
 */
import { readFileSync } from "node:fs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createDocumentClient } from "@hls-s2/core/store";
import { createS3Client } from "@hls-s2/functions/lib/clients";
import { configureRuntime } from "@hls-s2/functions/lib/runtime";

/** What the parent sends first: where the stores are and the hub's credentials (no Secrets Manager here). */
export interface ChildInit {
  dynamoEndpoint: string;
  s3Endpoint: string;
  region: string;
  credentials: { username: string; password: string };
  /** StartPushedDownloads: answer ListExecutions/StartExecution in-process (no Step Functions here). */
  stubSfn?: boolean;
}

export interface ChildInvoke {
  event: unknown;
  /** The function's timeout: the handler sees a Lambda context counting down from it. */
  timeoutSeconds: number;
}

export interface ChildFigures {
  peakRssBytes: number;
  cpuSeconds: number;
}

type Handler = (event: unknown, context?: unknown) => Promise<unknown>;

function figures(): ChildFigures {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  const cpu = process.cpuUsage();
  return {
    peakRssBytes: match === null ? process.memoryUsage().rss : Number(match[1]) * 1024,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

function stubSfn() {
  return {
    async send(command: { constructor: { name: string } }) {
      if (command.constructor.name === "ListExecutionsCommand") return { executions: [] };
      return {
        executionArn: "arn:aws:states:us-east-1:000000000000:execution:bench:1",
        startDate: new Date(),
      };
    },
  };
}

/** Serves `{ op: "init" | "invoke" | "figures" }` requests from the parent until it disconnects. */
export function serveHandler(handler: Handler): void {
  const answer = async (request: { op: string } & Record<string, unknown>): Promise<unknown> => {
    if (request.op === "figures") return figures();
    if (request.op === "init") {
      const init = request as unknown as ChildInit;
      configureRuntime({
        clients: {
          dynamo: createDocumentClient(
            new DynamoDBClient({
              endpoint: init.dynamoEndpoint,
              region: init.region,
              credentials: { accessKeyId: "local", secretAccessKey: "local" },
            }),
          ),
          s3: createS3Client({
            endpoint: init.s3Endpoint,
            region: init.region,
            credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
            forcePathStyle: true,
          }),
          ...(init.stubSfn === true && { sfn: stubSfn() as never }),
        },
        credentials: { hub: init.credentials, download: init.credentials, push: init.credentials },
      });
      return figures();
    }
    const { event, timeoutSeconds } = request as unknown as ChildInvoke;
    const deadline = Date.now() + timeoutSeconds * 1000;
    const began = process.hrtime.bigint();
    const result = await handler(event, { getRemainingTimeInMillis: () => deadline - Date.now() });
    return { result, seconds: Number(process.hrtime.bigint() - began) / 1e9, ...figures() };
  };
  process.on("message", (message: { id: number; op: string } & Record<string, unknown>) => {
    answer(message).then(
      (result) => process.send?.({ id: message.id, result }),
      (error: unknown) =>
        process.send?.({
          id: message.id,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        }),
    );
  });
  process.on("disconnect", () => process.exit(0));
  process.send?.({ id: 0 });
}
