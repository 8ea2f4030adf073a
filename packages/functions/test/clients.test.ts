import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { transferGranule } from "@hls-s2/core/transfer";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { configureRuntime, getS3, resetRuntime } from "../src/lib/runtime";
import { lambdaEnv } from "./helpers/local";

const MIB = 1024 * 1024;

interface RecordedRequest {
  method: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  bodyMd5: string;
}

/**
 * A loopback stand-in for S3 that records every request's headers and answers just enough of
 * Create/UploadPart/Complete for a transfer to finish; it checks nothing, so what the assertions see
 * is exactly what the client chose to send.
 */
async function startRecordingS3(): Promise<{ server: Server; url: string; requests: RecordedRequest[] }> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const hash = createHash("md5");
    req.on("data", (chunk: Buffer) => hash.update(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const query = url.searchParams;
      requests.push({
        method: req.method ?? "",
        query,
        headers: req.headers,
        bodyMd5: hash.digest("base64"),
      });
      res.setHeader("content-type", "application/xml");
      if (req.method === "POST" && query.has("uploads")) {
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>upload-1</UploadId></InitiateMultipartUploadResult>`,
        );
      } else if (req.method === "PUT" && query.has("partNumber")) {
        res.setHeader("etag", `"etag-${query.get("partNumber")}"`);
        res.end();
      } else if (req.method === "POST" && query.has("uploadId")) {
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>"done-2"</ETag></CompleteMultipartUploadResult>`,
        );
      } else {
        res.statusCode = 501;
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe("the Lambda runtime's S3 client", () => {
  let s3: Awaited<ReturnType<typeof startRecordingS3>>;
  const saved: Record<string, string | undefined> = {};
  // getS3() builds its client from the SDK's default chain exactly as in Lambda; only the endpoint
  // and credentials come from the environment, as the SDK documents (AWS_ENDPOINT_URL_S3).
  const env = {
    AWS_ENDPOINT_URL_S3: "",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_REQUEST_CHECKSUM_CALCULATION: undefined,
  };

  beforeAll(async () => {
    s3 = await startRecordingS3();
    env.AWS_ENDPOINT_URL_S3 = s3.url;
    for (const [key, value] of Object.entries(env)) {
      saved[key] = process.env[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });
  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await new Promise((resolve) => s3.server.close(resolve));
  });
  afterEach(() => {
    s3.requests.length = 0;
    resetRuntime();
  });

  it("sends each UploadPart with its Content-MD5 and no flexible checksum, and names no algorithm at Create or Complete", async () => {
    // A deployed function's configuration, but no client override: getS3() builds its own.
    configureRuntime({ env: lambdaEnv() });
    const product = randomBytes(5 * MIB + 1234);
    const md5 = createHash("md5").update(product).digest("hex");
    await transferGranule(
      {
        granuleId: "g-1",
        bucket: "upload-bucket",
        key: "S2A_TEST.zip",
        expectedMd5: md5,
        hub: { openDownload: async () => ({ body: Readable.from([product]), offset: 0 }) },
        s3: getS3(),
      },
      { partSizeBytes: 5 * MIB, queueSize: 1 },
    );

    const parts = s3.requests.filter((r) => r.method === "PUT" && r.query.has("partNumber"));
    expect(parts.map((r) => r.query.get("partNumber")).sort()).toEqual(["1", "2"]);
    for (const part of parts) {
      // The header is the MD5 of the very bytes that arrived: what S3 checks (BadDigest otherwise).
      expect(part.headers["content-md5"]).toBe(part.bodyMd5);
      expect(Object.keys(part.headers).filter((name) => name.startsWith("x-amz-checksum-"))).toEqual([]);
      expect(part.headers["x-amz-sdk-checksum-algorithm"]).toBeUndefined();
      expect(part.headers["x-amz-trailer"]).toBeUndefined();
      expect(part.headers["content-encoding"] ?? "").not.toContain("aws-chunked");
    }
    const create = s3.requests.find((r) => r.method === "POST" && r.query.has("uploads"));
    expect(create?.headers["x-amz-checksum-algorithm"]).toBeUndefined();
    const complete = s3.requests.find((r) => r.method === "POST" && r.query.has("uploadId"));
    expect(Object.keys(complete?.headers ?? {}).filter((name) => name.startsWith("x-amz-checksum-"))).toEqual(
      [],
    );
  });
});
