import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type DiscoveredGranule, GranuleStore, type Hub } from "@hls-s2/core";
import { afterAll, afterEach, beforeAll } from "vitest";
// Core's test helpers are not part of its package exports, so they are reached by path.
import { createGranuleTable, startLocalDynamo } from "../../../core/test/helpers/dynamo";
import { resetRuntime } from "../../src/lib/runtime";

export const TABLE = "functions-test";

/** The environment a deployed function gets, pointing nowhere real. */
export function lambdaEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TABLE_NAME: TABLE,
    BUCKET_NAME: "upload-bucket",
    WORK_BUCKET_NAME: "work-bucket",
    HUB_KIND: "dhus",
    HUB_URL: "http://127.0.0.1:9/hub",
    HUB_SECRET_ID: "hub-secret",
    PLATFORMS: "S2A,S2B",
    LOOKBACK_DAYS: "1",
    PART_SIZE_MIB: "5",
    PART_QUEUE_SIZE: "1",
    ...overrides,
  };
}

/** The file's granule table and a store on it, readable inside tests (the table starts in `beforeAll`). */
export interface LocalTable {
  readonly documentClient: DynamoDBDocumentClient;
  readonly store: GranuleStore;
}

/**
 * Registers the file's hooks: one in-memory dynalite on 127.0.0.1 with the granule table created as
 * the stack creates it, closed after the file, and the runtime reset after each test so no test
 * inherits another's clients or config.
 */
export function useLocalTable(): LocalTable {
  let started: (LocalTable & { close(): Promise<void> }) | undefined;
  beforeAll(async () => {
    const dynamo = await startLocalDynamo();
    await createGranuleTable(dynamo.client, TABLE);
    const documentClient = DynamoDBDocumentClient.from(dynamo.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    started = {
      documentClient,
      store: new GranuleStore(documentClient, { tableName: TABLE }),
      close: () => dynamo.close(),
    };
  });
  afterAll(() => started?.close());
  afterEach(() => resetRuntime());
  const running = () => {
    if (!started) throw new Error("the local table starts in beforeAll: read it inside a test or hook");
    return started;
  };
  return {
    get documentClient() {
      return running().documentClient;
    },
    get store() {
      return running().store;
    },
  };
}

let sequence = 0;

/** A granule with a fresh id, a valid product name and a publication day of its own. */
export function aGranule(): { granule: DiscoveredGranule; day: string } {
  sequence += 1;
  const day = new Date(Date.UTC(2031, 0, 1) + sequence * 86_400_000).toISOString().slice(0, 10);
  const stamp = `${day.replace(/-/g, "")}T${String(100000 + sequence).slice(-6)}`;
  return {
    day,
    granule: {
      granuleId: randomUUID(),
      name: `S2B_MSIL1C_20240101T101419_N0510_R022_T32TQM_${stamp}`,
      tileId: "32TQM",
      platform: "S2B",
      sensingStart: "2024-01-01T10:14:19.024Z",
      sensingEnd: "2024-01-01T10:14:19.024Z",
      publishedAt: `${day}T12:00:00.000Z`,
      sizeBytes: 0,
    },
  };
}

export function md5Of(bytes: Buffer): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** A hub serving one product body (honouring the offset like a Range request) and its checksum. */
export function fakeHub(body: Buffer, overrides: Partial<Hub> = {}): Hub {
  return {
    kind: "dhus",
    async listSearchPage() {
      return { totalResults: 0, entriesOnPage: 0, granules: [], rejected: [] };
    },
    async getChecksum() {
      return md5Of(body);
    },
    async openDownload(_id, options = {}) {
      const offset = options.offset ?? 0;
      return { body: Readable.from([body.subarray(offset)]), offset, contentLength: body.length - offset };
    },
    ...overrides,
  };
}

/** What the in-memory S3 stand-in holds: objects appear only when their multipart upload completes. */
export interface MemoryBucket {
  objects: Map<string, Buffer>;
  aborted: string[];
}

/**
 * An in-memory S3 for the multipart path, dispatching on the command's class name: core sends commands
 * built by its own copy of the SDK, which a class-matching mock from this package would not recognise.
 */
export function memoryS3(): { s3: S3Client; bucket: MemoryBucket } {
  const uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  const bucket: MemoryBucket = { objects: new Map(), aborted: [] };
  const s3 = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const input = command.input as {
        Key: string;
        UploadId: string;
        PartNumber: number;
        Body: Uint8Array;
        MultipartUpload?: { Parts?: { PartNumber: number }[] };
      };
      switch (command.constructor.name) {
        case "CreateMultipartUploadCommand": {
          const uploadId = randomUUID();
          uploads.set(uploadId, { key: input.Key, parts: new Map() });
          return { UploadId: uploadId };
        }
        case "UploadPartCommand": {
          const body = Buffer.from(input.Body);
          uploads.get(input.UploadId)?.parts.set(input.PartNumber, body);
          return { ETag: `"${md5Of(body)}"` };
        }
        case "CompleteMultipartUploadCommand": {
          const upload = uploads.get(input.UploadId)!;
          const parts = (input.MultipartUpload?.Parts ?? []).map(
            (part) => upload.parts.get(part.PartNumber)!,
          );
          bucket.objects.set(input.Key, Buffer.concat(parts));
          return { ETag: '"done"' };
        }
        case "AbortMultipartUploadCommand":
          bucket.aborted.push(input.UploadId);
          uploads.delete(input.UploadId);
          return {};
        default:
          throw new Error(`memory S3 does not implement ${command.constructor.name}`);
      }
    },
  };
  return { s3: s3 as unknown as S3Client, bucket };
}
