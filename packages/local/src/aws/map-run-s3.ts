import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { InvalidInputError } from "@hls-s2/core/errors";
import { StatesError } from "../errors";
import { STATE_MACHINE_PRINCIPAL } from "./aws-calls";
import type { AslState } from "./definition";
import type { ChildStatus, MapRunChild, MapRunOptions, MapRunRecord } from "./map-run";
import { passState } from "./pass-state";

// The Map Run's S3 side: the items its ItemReader reads, the results its ResultWriter writes.

/** ItemReader (an S3 JSON array) or, without one, the array ItemsPath selects from the Map's input. */
export async function readItems(options: MapRunOptions, state: AslState): Promise<unknown[]> {
  const reader = state["ItemReader"] as
    | {
        Resource?: string;
        ReaderConfig?: { InputType?: string; MaxItems?: number };
        Parameters?: Record<string, unknown>;
      }
    | undefined;
  if (reader === undefined) {
    const items = await passState({ InputPath: (state["ItemsPath"] as string | undefined) ?? "$" }).run(
      options.input as never,
    ).result;
    if (!Array.isArray(items)) {
      throw new StatesError(
        "States.ItemReaderFailed",
        `${options.map.stateName}: ItemsPath does not select an array`,
      );
    }
    return items;
  }
  const inputType = reader.ReaderConfig?.InputType;
  if (reader.Resource !== "arn:aws:states:::s3:getObject" || inputType !== "JSON") {
    throw new InvalidInputError(
      `state ${options.map.stateName}: only an S3 JSON ItemReader is implemented locally, got ${reader.Resource} ${inputType}`,
    );
  }
  // The reader's Parameters (Bucket, `Key.$`) are resolved against the Map's input, like any Parameters.
  const { Bucket, Key } = (await passState({ Parameters: reader.Parameters ?? {} }).run(
    options.input as never,
  ).result) as {
    Bucket?: unknown;
    Key?: unknown;
  };
  if (typeof Bucket !== "string" || typeof Key !== "string") {
    throw new StatesError(
      "States.ItemReaderFailed",
      `${options.map.stateName}: ItemReader has no Bucket/Key`,
    );
  }
  options.onAwsCall?.({
    principal: STATE_MACHINE_PRINCIPAL,
    service: "s3",
    command: "GetObject",
    input: { Bucket: options.buckets?.[Bucket] ?? Bucket, Key },
  });
  let items: unknown;
  try {
    const object = await options.s3.send(
      new GetObjectCommand({ Bucket: options.buckets?.[Bucket] ?? Bucket, Key }),
    );
    items = JSON.parse(await object.Body!.transformToString());
  } catch (error) {
    throw new StatesError("States.ItemReaderFailed", `s3://${Bucket}/${Key}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!Array.isArray(items)) {
    throw new StatesError("States.ItemReaderFailed", `s3://${Bucket}/${Key} does not hold a JSON array`);
  }
  const maxItems = reader.ReaderConfig?.MaxItems;
  return maxItems === undefined || maxItems === 0 ? items : items.slice(0, maxItems);
}

/** One object of results, as the manifest lists it. */
interface ResultFile {
  Key: string;
  Size: number;
}

/**
 * ResultWriter: "Step Functions consolidates all child workflow execution data, such as execution input
 * and output, ARN, and execution status. It then exports executions with the same status to their
 * respective files in the specified Amazon S3 location" (ResultWriter) — SUCCEEDED_n.json, FAILED_n.json,
 * PENDING_n.json and a manifest.json listing them, under `<Prefix>/<map run id>/`. Locally one file per
 * status (AWS splits files only at 5 GB).
 */
export async function writeResults(
  record: MapRunRecord,
  writer: { Parameters?: Record<string, unknown> },
  options: MapRunOptions,
): Promise<{ Bucket: string; Key: string }> {
  const { Bucket, Prefix } = (await passState({ Parameters: writer.Parameters ?? {} }).run(
    options.input as never,
  ).result) as {
    Bucket?: unknown;
    Prefix?: unknown;
  };
  if (typeof Bucket !== "string") {
    throw new StatesError("States.ResultWriterFailed", `${record.stateName}: ResultWriter has no Bucket`);
  }
  const prefix = typeof Prefix === "string" ? Prefix.replace(/\/+$/, "") : "";
  const folder = prefix === "" ? record.mapRunId : `${prefix}/${record.mapRunId}`;
  const put = async (Key: string, body: string) => {
    options.onAwsCall?.({
      principal: STATE_MACHINE_PRINCIPAL,
      service: "s3",
      command: "PutObject",
      input: { Bucket: options.buckets?.[Bucket] ?? Bucket, Key },
    });
    try {
      await options.s3.send(
        new PutObjectCommand({
          Bucket: options.buckets?.[Bucket] ?? Bucket,
          Key,
          Body: body,
          ContentType: "application/json",
        }),
      );
    } catch (error) {
      throw new StatesError(
        "States.ResultWriterFailed",
        `s3://${Bucket}/${Key}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return { Key, Size: Buffer.byteLength(body) };
  };
  const files: Record<ChildStatus, ResultFile[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  for (const status of ["FAILED", "PENDING", "SUCCEEDED"] as const) {
    const children = record.children.filter((c) => c.status === status);
    if (children.length === 0) continue;
    const body = JSON.stringify(children.map((c) => resultEntry(c, options.stateMachineArn)));
    files[status].push(await put(`${folder}/${status}_0.json`, body));
  }
  const manifestKey = `${folder}/manifest.json`;
  await put(
    manifestKey,
    JSON.stringify({ DestinationBucket: Bucket, MapRunArn: record.mapRunArn, ResultFiles: files }),
  );
  return { Bucket, Key: manifestKey };
}

/** A child as the result files describe it (Input and Output as JSON text, as AWS writes them). */
function resultEntry(child: MapRunChild, stateMachineArn: string): Record<string, unknown> {
  return {
    ExecutionArn: child.executionArn,
    Name: child.name,
    StateMachineArn: stateMachineArn,
    Status: child.status,
    Input: JSON.stringify(child.input),
    InputDetails: { Included: true },
    RedriveCount: child.redriveCount,
    ...(child.startDate !== undefined && { StartDate: child.startDate }),
    ...(child.stopDate !== undefined && { StopDate: child.stopDate }),
    ...(child.status === "SUCCEEDED" && {
      Output: JSON.stringify(child.output),
      OutputDetails: { Included: true },
    }),
    ...(child.error !== undefined && { Error: child.error.Error, Cause: child.error.Cause }),
  };
}
