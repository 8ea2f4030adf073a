import { createCipheriv, createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  NoSuchUpload,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import type { DownloadStream, Hub } from "../../src/adapters/hub/hub";

/** The part of s3rver's API the tests use (the package ships no types). */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverServer;

export interface LocalS3 {
  endpoint: string;
  directory: string;
  /** A client bound to this server; each test makes its own. */
  client(): S3Client;
  close(): Promise<void>;
}

/** Starts an s3rver on 127.0.0.1 (random port, temp directory) with the given buckets. */
export async function startLocalS3(buckets: string[]): Promise<LocalS3> {
  const require = createRequire(import.meta.url);
  const S3rver = require("s3rver") as S3rverConstructor;
  const directory = await mkdtemp(join(tmpdir(), "s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    directory,
    client: () =>
      new S3Client({
        endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      }),
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A client pointing nowhere, for aws-sdk-client-mock to stub per instance. */
export function offlineS3Client(): S3Client {
  return new S3Client({
    endpoint: "http://127.0.0.1:9",
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
}

/**
 * Deterministic product bytes [offset, offset + length) for a seed, without materialising the
 * product: the AES-128-CTR keystream of the seed, which is native-fast and seekable (block = 16 bytes).
 */
export function productSlice(seed: number, offset: number, length: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  const firstBlock = Math.floor(offset / 16);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(firstBlock / 2 ** 32), 8);
  iv.writeUInt32BE(firstBlock % 2 ** 32, 12);
  const skip = offset % 16;
  const cipher = createCipheriv("aes-128-ctr", key, iv);
  return cipher.update(Buffer.alloc(skip + length)).subarray(skip);
}

/** The MD5 (lowercase hex) of a deterministic product. */
export function productMd5(seed: number, size: number): string {
  const hash = createHash("md5");
  const step = 4 * 1024 * 1024;
  for (let offset = 0; offset < size; offset += step) {
    hash.update(productSlice(seed, offset, Math.min(step, size - offset)));
  }
  return hash.digest("hex");
}

export type BreakMode = "error" | "close" | "short";

export interface FakeHubOptions {
  size: number;
  seed?: number;
  /** When false the hub answers every request from byte 0, as a server that ignores Range. */
  honourRange?: boolean;
  /** Per opened body (by index): bytes it serves before it breaks; absent entries never break. */
  breakAfter?: number[];
  breakMode?: BreakMode;
  /** Bytes per pushed chunk. */
  chunkBytes?: number;
  /** Error thrown by openDownload (e.g. GranuleGoneError), per open index. */
  openErrors?: Record<number, Error>;
  /** Called after each chunk is pushed, with the hub's total bytes served so far. */
  onServed?: (servedBytes: number) => void;
}

export interface FakeHub extends Pick<Hub, "openDownload"> {
  readonly seed: number;
  readonly size: number;
  readonly md5: string;
  /** Every openDownload call: requested offset and the offset the body starts at. */
  readonly opens: { requested: number; served: number }[];
  /** Bytes pushed into bodies so far, across all opens. */
  servedBytes(): number;
}

/** A hub whose product is deterministic bytes; counts what it serves and breaks bodies on request. */
export function fakeHub(options: FakeHubOptions): FakeHub {
  const { size, honourRange = true, breakAfter = [], breakMode = "error", chunkBytes = 64 * 1024 } = options;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const opens: { requested: number; served: number }[] = [];
  let served = 0;
  return {
    seed,
    size,
    md5: productMd5(seed, size),
    opens,
    servedBytes: () => served,
    async openDownload(_granuleId, callOptions = {}): Promise<DownloadStream> {
      const index = opens.length;
      const requested = callOptions.offset ?? 0;
      const start = honourRange ? requested : 0;
      opens.push({ requested, served: start });
      const openError = options.openErrors?.[index];
      if (openError !== undefined) throw openError;
      const limit = breakAfter[index];
      let position = start;
      let sent = 0;
      const body = new Readable({
        read() {
          if (limit !== undefined && sent >= limit) {
            if (breakMode === "error") {
              this.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
            } else if (breakMode === "close") {
              this.destroy();
            } else {
              this.push(null);
            }
            return;
          }
          if (position >= size) {
            this.push(null);
            return;
          }
          const length = Math.min(
            chunkBytes,
            size - position,
            limit === undefined ? chunkBytes : limit - sent,
          );
          const chunk = productSlice(seed, position, length);
          position += length;
          sent += length;
          served += length;
          this.push(chunk);
          options.onServed?.(served);
        },
      });
      callOptions.signal?.addEventListener("abort", () => body.destroy(new Error("aborted")), { once: true });
      return { body, offset: start, contentLength: size - start };
    },
  };
}

/** A fresh granule id and key, so tests never share objects. */
export function uniqueGranule(): { granuleId: string; key: string } {
  const granuleId = randomUUID();
  return { granuleId, key: `test/${granuleId}.zip` };
}

export interface MemoryUpload {
  key: string;
  metadata: Record<string, string>;
  parts: Map<number, Buffer>;
  state: "open" | "completed" | "aborted";
}

export interface MemoryS3Options {
  /** Milliseconds each UploadPart takes, to let the queue fill. */
  partDelayMs?: number;
  /** Rejects AbortMultipartUpload like s3rver does (405 MethodNotAllowed). */
  abortFails?: boolean;
  /** Upload ids that S3 has forgotten: UploadPart answers NoSuchUpload. */
  vanishedUploads?: Set<string>;
}

/** S3's answer to `If-None-Match: *` on a key that exists. */
function preconditionFailed(): S3ServiceException {
  return new S3ServiceException({
    name: "PreconditionFailed",
    $fault: "client",
    $metadata: { httpStatusCode: 412 },
    message: "At least one of the pre-conditions you specified did not hold",
  });
}

/** Tracks what a memory S3 mock holds; `objects` appear only at CompleteMultipartUpload or PutObject. */
export interface MemoryS3 {
  uploads: Map<string, MemoryUpload>;
  objects: Map<string, Buffer>;
  /** Bytes of parts received whose UploadPart call has returned. */
  uploadedBytes(): number;
}

/** Stubs one S3Client instance with an in-memory multipart store; returns the stub and what it holds. */
export function memoryS3(client: S3Client, options: MemoryS3Options = {}) {
  const mock = mockClient(client);
  const state: MemoryS3 = { uploads: new Map(), objects: new Map(), uploadedBytes: () => uploaded };
  let uploaded = 0;
  mock.on(CreateMultipartUploadCommand).callsFake(async (input) => {
    const uploadId = randomUUID();
    state.uploads.set(uploadId, {
      key: input.Key,
      metadata: input.Metadata ?? {},
      parts: new Map(),
      state: "open",
    });
    return { UploadId: uploadId, Bucket: input.Bucket, Key: input.Key };
  });
  mock.on(UploadPartCommand).callsFake(async (input) => {
    const upload = state.uploads.get(input.UploadId);
    if (upload === undefined || upload.state !== "open" || options.vanishedUploads?.has(input.UploadId)) {
      throw new NoSuchUpload({
        message: "The specified upload does not exist.",
        $metadata: { httpStatusCode: 404 },
      });
    }
    const body = Buffer.from(input.Body as Uint8Array);
    if (options.partDelayMs !== undefined) await sleep(options.partDelayMs);
    upload.parts.set(input.PartNumber, body);
    uploaded += body.length;
    // S3's part ETag is the part's MD5; any distinct value will do here and costs no hashing.
    return { ETag: `"${input.UploadId}-${input.PartNumber}-${body.length}"` };
  });
  mock.on(CompleteMultipartUploadCommand).callsFake(async (input) => {
    const upload = state.uploads.get(input.UploadId);
    if (upload === undefined || upload.state !== "open") {
      throw new NoSuchUpload({
        message: "The specified upload does not exist.",
        $metadata: { httpStatusCode: 404 },
      });
    }
    const parts = (input.MultipartUpload?.Parts ?? []).map((part: { PartNumber: number }) => {
      const body = upload.parts.get(part.PartNumber);
      if (body === undefined) throw new Error(`part ${part.PartNumber} was never uploaded`);
      return body;
    });
    if (input.IfNoneMatch === "*" && state.objects.has(input.Key)) throw preconditionFailed();
    upload.state = "completed";
    state.objects.set(input.Key, Buffer.concat(parts));
    return { ETag: '"completed"', Key: input.Key };
  });
  mock.on(PutObjectCommand).callsFake(async (input) => {
    if (input.IfNoneMatch === "*" && state.objects.has(input.Key)) throw preconditionFailed();
    const body = Buffer.from(input.Body as Uint8Array);
    if (
      input.ContentMD5 !== undefined &&
      input.ContentMD5 !== createHash("md5").update(body).digest("base64")
    ) {
      throw new S3ServiceException({
        name: "BadDigest",
        $fault: "client",
        $metadata: { httpStatusCode: 400 },
        message: "The Content-MD5 you specified did not match what we received.",
      });
    }
    state.objects.set(input.Key, body);
    return { ETag: `"${createHash("md5").update(body).digest("hex")}"` };
  });
  // One page: the open uploads whose key starts with the prefix, oldest first, as S3 lists them.
  mock.on(ListMultipartUploadsCommand).callsFake(async (input) => ({
    Bucket: input.Bucket,
    IsTruncated: false,
    Uploads: [...state.uploads]
      .filter(([, upload]) => upload.state === "open" && upload.key.startsWith(input.Prefix ?? ""))
      .map(([uploadId, upload]) => ({ UploadId: uploadId, Key: upload.key })),
  }));
  mock.on(AbortMultipartUploadCommand).callsFake(async (input) => {
    if (options.abortFails) {
      throw new S3ServiceException({
        name: "MethodNotAllowed",
        $fault: "client",
        $metadata: { httpStatusCode: 405 },
        message: "The specified method is not allowed against this resource.",
      });
    }
    const upload = state.uploads.get(input.UploadId);
    if (upload !== undefined) upload.state = "aborted";
    return {};
  });
  return { mock, state };
}
