import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Hub } from "@hls-s2/core/hub";
import { type GranuleTable, useGranuleTable } from "@hls-s2/testing/dynamo";
import { afterEach } from "vitest";
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
    // The handler tests' products are random bytes, not zips; the zip check has its own tests.
    ZIP_CHECK: "false",
    ...overrides,
  };
}

/**
 * Registers the file's hooks: the granule table on an in-memory dynalite for the file, and the runtime
 * reset after each test so no test inherits another's clients or config.
 */
export function useLocalTable(): GranuleTable {
  const table = useGranuleTable(TABLE);
  afterEach(() => resetRuntime());
  return table;
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

/** What the in-memory S3 stand-in holds: objects appear only when their multipart upload completes or PutObject lands. */
export interface MemoryBucket {
  objects: Map<string, Buffer>;
  aborted: string[];
}

/**
 * An in-memory S3 for the object writes (multipart, or one PutObject), dispatching on the command's class name: core sends commands
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
        case "PutObjectCommand": {
          // A product that fits in one part: one PutObject (If-None-Match: * refuses an existing key).
          if ((input as { IfNoneMatch?: string }).IfNoneMatch === "*" && bucket.objects.has(input.Key)) {
            throw Object.assign(new Error("At least one of the pre-conditions you specified did not hold"), {
              name: "PreconditionFailed",
              $metadata: { httpStatusCode: 412 },
            });
          }
          bucket.objects.set(input.Key, Buffer.from(input.Body));
          return { ETag: `"${md5Of(Buffer.from(input.Body))}"` };
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
