import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AWS_CLIENT_TIMEOUTS, createDynamoDBClient, createS3Client } from "../src/lib/clients";

/** A loopback server that accepts every request and never answers: a stalled AWS endpoint. */
let silent: Server;
let endpoint: string;
beforeAll(async () => {
  silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});
afterAll(async () => {
  silent.closeAllConnections();
  await new Promise((resolve) => silent.close(resolve));
});

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

describe("the functions' AWS clients", () => {
  it("end a DynamoDB call that never gets an answer with the retryable AwsUnavailableError", async () => {
    const client = createDynamoDBClient(
      { endpoint, region: "us-east-1", credentials, maxAttempts: 2 },
      { requestTimeoutMs: 200 },
    );
    const store = new GranuleStore(createDocumentClient(client), { tableName: "t" });
    const started = Date.now();

    await expect(store.getGranule("g1")).rejects.toMatchObject({
      name: "AwsUnavailableError",
      awsError: "TimeoutError",
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    client.destroy();
  });

  it("end an S3 call that never gets an answer at their request timeout", async () => {
    const client = createS3Client(
      { endpoint, region: "us-east-1", credentials, forcePathStyle: true, maxAttempts: 1 },
      { requestTimeoutMs: 200 },
    );
    const { ListBucketsCommand } = await import("@aws-sdk/client-s3");

    await expect(client.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: "TimeoutError" });
    client.destroy();
  });

  it("have connection and request timeouts by default, inside the handlers' 60 s margin for the short calls", () => {
    expect(AWS_CLIENT_TIMEOUTS.connectionTimeoutMs).toBeGreaterThan(0);
    // Three attempts of a stalled short call end before the margin the handlers keep.
    expect(3 * (AWS_CLIENT_TIMEOUTS.connectionTimeoutMs + AWS_CLIENT_TIMEOUTS.requestTimeoutMs)).toBeLessThan(
      60_000,
    );
    expect(AWS_CLIENT_TIMEOUTS.s3RequestTimeoutMs).toBeGreaterThan(0);
  });
});
