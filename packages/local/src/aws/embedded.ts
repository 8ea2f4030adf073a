import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { InvalidInputError } from "@hls-s2/core/errors";
import { granuleTableDefinition } from "@hls-s2/core/store";
import { createS3Client, S3_CHECKSUM_SETTINGS } from "@hls-s2/functions/lib/clients";
import S3rver from "s3rver";
import { dynamoDbLocalAvailable, startDynalite, startDynamoDbLocal } from "./dynamo-server";
import { type S3GapsOptions, type S3Request, s3GapsMiddleware } from "./s3-gaps";

export const LOCAL_REGION = "us-east-1";
export const LOCAL_TABLE_NAME = "hls-s2-granules";
export const LOCAL_BUCKET_NAME = "hls-s2-upload";
export const LOCAL_WORK_BUCKET_NAME = "hls-s2-work";

/** s3rver accepts only its built-in key pair; dynalite accepts any. Neither leaves loopback. */
const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const DYNALITE_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

/** Which DynamoDB stand-in serves the table. */
export type DynamoBackend = "dynamodb-local" | "dynalite";

export interface EmbeddedStoresInput {
  /** Folder for the table and the buckets (files); omitted: in-memory table, temp folder. */
  dataDir?: string;
  /**
   * "dynamodb-local" (AWS's DynamoDB Local, needs a JDK), "dynalite", or "auto" (default): DynamoDB
   * Local when `java` and `javac` run, else dynalite; a data folder that holds only dynalite data keeps dynalite.
   */
  dynamo?: DynamoBackend | "auto";
  tableName?: string;
  bucketName?: string;
  workBucketName?: string;
  /** Called after each CompleteMultipartUpload or PutObject stored a granule object, before S3 answers (crash tests). */
  onUploadCompleted?: S3GapsOptions["onUploadCompleted"];
}

export interface EmbeddedStores {
  tableName: string;
  bucketName: string;
  workBucketName: string;
  dynamoEndpoint: string;
  /** The stand-in serving the table, and a line saying so for the progress line and the summary. */
  dynamoBackend: DynamoBackend;
  dynamoDescription: string;
  s3Endpoint: string;
  /** Where s3rver keeps the buckets' files. */
  s3Directory: string;
  /** Every request the embedded S3 received since it started, by S3 operation, in arrival order. */
  s3Requests: S3Request[];
  dynamo: DynamoDBClient;
  s3: S3Client;
  /** An object's bytes (default: the upload bucket), or undefined when there is none. */
  readObject(key: string, bucket?: string): Promise<Buffer | undefined>;
  /** Every object key of a bucket (default: the upload bucket), sorted. */
  listKeys(bucket?: string): Promise<string[]>;
  /** Stops both servers and destroys the clients; a temporary folder is removed. */
  close(): Promise<void>;
}

/** SDK settings for a DynamoDB client that talks to the embedded table. */
export function dynamoClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: DYNALITE_CREDENTIALS, maxAttempts: 3 };
}

/**
 * SDK settings for an S3 client that talks to s3rver: path-style and its key pair; the checksum
 * settings are the Lambda runtime's own (functions/src/lib/clients.ts), so a local run sends S3 the
 * same headers a deployed function does. Build the client with createS3Client.
 */
export function s3ClientConfig(endpoint: string) {
  return {
    endpoint,
    region: LOCAL_REGION,
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    ...S3_CHECKSUM_SETTINGS,
  };
}

/**
 * Starts dynalite and s3rver on 127.0.0.1 (free ports) and creates the granule table and both buckets
 * when absent.
 * @throws InvalidInputError when a name is empty.
 */
export async function startEmbeddedStores(
  input: EmbeddedStoresInput = {},
  options: { dynamoPort?: number; s3Port?: number } = {},
): Promise<EmbeddedStores> {
  const tableName = input.tableName ?? LOCAL_TABLE_NAME;
  const bucketName = input.bucketName ?? LOCAL_BUCKET_NAME;
  const workBucketName = input.workBucketName ?? LOCAL_WORK_BUCKET_NAME;
  options.dynamoPort ??= 0;
  options.s3Port ??= 0;
  for (const [field, value] of Object.entries({ tableName, bucketName, workBucketName })) {
    if (value === "") throw new InvalidInputError(`${field} must not be empty`, { field });
  }

  const temporary = input.dataDir === undefined ? await mkdtemp(join(tmpdir(), "hls-s2-local-")) : undefined;
  const root = input.dataDir ?? temporary!;
  const s3Directory = join(root, "s3");
  await mkdir(s3Directory, { recursive: true });
  const backend = chooseDynamoBackend(input.dynamo ?? "auto", input.dataDir);
  const dynamoServer =
    backend === "dynamodb-local"
      ? await startDynamoDbLocal(
          input.dataDir === undefined ? undefined : join(root, DYNAMODB_LOCAL_DIR),
          options.dynamoPort,
        )
      : await startDynalite(
          input.dataDir === undefined ? undefined : join(root, DYNALITE_DIR),
          options.dynamoPort,
        );
  const dynamoEndpoint = `http://127.0.0.1:${dynamoServer.port}`;

  const s3Requests: S3Request[] = [];
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: options.s3Port,
    silent: true,
    directory: s3Directory,
  });
  // Just before the router: after s3rver's XML encoder, so the gap handlers can answer plain objects.
  s3rver.middleware.splice(
    s3rver.middleware.length - 1,
    0,
    s3GapsMiddleware(s3Directory, {
      objectBucket: bucketName,
      onUploadCompleted: input.onUploadCompleted,
      onRequest: (request) => s3Requests.push(request),
    }),
  );
  const address = await s3rver.run();
  const s3Endpoint = `http://127.0.0.1:${address.port}`;

  const dynamo = new DynamoDBClient(dynamoClientConfig(dynamoEndpoint));
  const s3 = createS3Client(s3ClientConfig(s3Endpoint));
  let closing: Promise<void> | undefined;
  // Idempotent: a test may close early and again in its cleanup.
  const close = () => {
    closing ??= closeAll();
    return closing;
  };
  const closeAll = async () => {
    dynamo.destroy();
    s3.destroy();
    await Promise.all([dynamoServer.close(), s3rver.close()]);
    if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
  };
  try {
    await ensureTable(dynamo, tableName);
    await ensureBucket(s3, bucketName);
    await ensureBucket(s3, workBucketName);
  } catch (error) {
    await close();
    throw error;
  }
  const readObject = async (key: string, bucket = bucketName) => {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if ((error as Error).name === "NoSuchKey") return undefined;
      throw error;
    }
  };
  const listKeys = async (bucket = bucketName) => {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket })) {
      for (const object of page.Contents ?? []) keys.push(object.Key!);
    }
    return keys.sort();
  };
  return {
    tableName,
    bucketName,
    workBucketName,
    dynamoEndpoint,
    dynamoBackend: backend,
    dynamoDescription: dynamoServer.description,
    s3Endpoint,
    s3Directory,
    s3Requests,
    dynamo,
    s3,
    readObject,
    listKeys,
    close,
  };
}

async function ensureTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamo.send(new CreateTableCommand(granuleTableDefinition(tableName)));
  } catch (error) {
    // A persistent data folder already has the table from an earlier run.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === "ACTIVE",
    );
    if (Table?.TableStatus === "ACTIVE" && indexesActive) return;
    await sleep(20);
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

/** Folders of the data folder each stand-in keeps its table in (dynalite: LevelDB; DynamoDB Local: SQLite). */
const DYNALITE_DIR = "dynamodb";
export const DYNAMODB_LOCAL_DIR = "dynamodb-local";

/** True when a data folder holds a granule table of either stand-in (a local run happened there). */
export function hasLocalTable(dataDir: string): boolean {
  return existsSync(join(dataDir, DYNAMODB_LOCAL_DIR)) || existsSync(join(dataDir, DYNALITE_DIR));
}

function chooseDynamoBackend(wanted: DynamoBackend | "auto", dataDir: string | undefined): DynamoBackend {
  if (wanted !== "auto") {
    if (wanted === "dynamodb-local" && !dynamoDbLocalAvailable()) {
      throw new InvalidInputError("dynamodb-local needs java and javac (a JDK 17) on the PATH", {
        field: "dynamo",
      });
    }
    return wanted;
  }
  // A folder an earlier version filled with dynalite data keeps it, rather than looking empty.
  if (
    dataDir !== undefined &&
    existsSync(join(dataDir, DYNALITE_DIR)) &&
    !existsSync(join(dataDir, DYNAMODB_LOCAL_DIR))
  ) {
    return "dynalite";
  }
  return dynamoDbLocalAvailable() ? "dynamodb-local" : "dynalite";
}
