import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { SecretsManagerClient, type SecretsManagerClientConfig } from "@aws-sdk/client-secrets-manager";
import { SFNClient, type SFNClientConfig } from "@aws-sdk/client-sfn";

/**
 * Connection and request timeouts of every AWS client the functions build. The SDK's HTTP handler has
 * none by default (`requestTimeout` "Defaults to 0, which disables the timeout"), so one stalled call
 * could hold a function until Lambda kills it. DynamoDB, Secrets Manager and Step Functions answer in
 * milliseconds: 10 s per attempt, 3 attempts, stays inside the 60 s the handlers keep before their
 * timeout (lib/deadline.ts). An UploadPart moves up to a part of bytes: 120 s, and the transfer stops
 * waiting for parts in flight 30 s after its deadline (core's PARTS_GRACE_MS).
 */
export const AWS_CLIENT_TIMEOUTS = {
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
  s3RequestTimeoutMs: 120_000,
} as const;

/** The request handler options of a client with these timeouts (a breach throws TimeoutError, retried by the SDK). */
function requestHandler(connectionTimeoutMs: number, requestTimeoutMs: number) {
  return {
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    throwOnRequestTimeout: true,
  };
}

/** Options of the client factories: the timeouts (tests shorten them). */
export interface ClientTimeouts {
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/**
 * Checksum settings every S3 client of ours gets, in Lambda and in the local runner alike.
 *
 * Since client-s3 3.729.0 the SDK's default is `WHEN_SUPPORTED`: "In AWS SDK for JavaScript
 * v3.729.0, we released changes to the S3 client that adopts new default integrity protections …
 * clients default to enabling an additional checksum on all Put calls and enabling validation on
 * Get calls. … Integrity protections can be disabled by setting the config flag to `WHEN_REQUIRED`"
 * (aws/aws-sdk-js-v3#6810). With that default every UploadPart carries `x-amz-checksum-crc32`,
 * while our CreateMultipartUpload names no algorithm and our Complete lists ETags only — a mix S3
 * refuses: the part's checksum algorithm "must be the same for all parts and it match the checksum
 * value supplied in the CreateMultipartUpload request" (S3 API reference, UploadPart
 * ChecksumAlgorithm). So the only checksum a part carries is its `Content-MD5`, which
 * core/src/adapters/transfer/multipart-upload.ts computes per part: "Amazon S3 checks the part data against the provided MD5
 * value. If they do not match, Amazon S3 returns an error" (UploadPart). It also spares a third hash
 * pass over every byte (after the streamed product MD5 and the part MD5).
 *
 * Responses: WHEN_REQUIRED too, so a GetObject does not ask for (`x-amz-checksum-mode`) a checksum
 * our MD5-only uploads never stored.
 */
export const S3_CHECKSUM_SETTINGS = {
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
} as const satisfies Partial<S3ClientConfig>;

/** The one S3 client constructor: the given settings (endpoint, credentials…) plus our timeouts and checksum rules. */
export function createS3Client(config: S3ClientConfig = {}, timeouts: ClientTimeouts = {}): S3Client {
  const handler = requestHandler(
    timeouts.connectionTimeoutMs ?? AWS_CLIENT_TIMEOUTS.connectionTimeoutMs,
    timeouts.requestTimeoutMs ?? AWS_CLIENT_TIMEOUTS.s3RequestTimeoutMs,
  );
  return new S3Client({ requestHandler: handler, ...config, ...S3_CHECKSUM_SETTINGS });
}

/** The DynamoDB, Secrets Manager and Step Functions clients of the functions, with our timeouts. */
export function createDynamoDBClient(config: DynamoDBClientConfig = {}, timeouts: ClientTimeouts = {}) {
  return new DynamoDBClient({ requestHandler: shortCallHandler(timeouts), ...config });
}

export function createSecretsManagerClient(
  config: SecretsManagerClientConfig = {},
  timeouts: ClientTimeouts = {},
) {
  return new SecretsManagerClient({ requestHandler: shortCallHandler(timeouts), ...config });
}

export function createSfnClient(config: SFNClientConfig = {}, timeouts: ClientTimeouts = {}) {
  return new SFNClient({ requestHandler: shortCallHandler(timeouts), ...config });
}

function shortCallHandler(timeouts: ClientTimeouts) {
  return requestHandler(
    timeouts.connectionTimeoutMs ?? AWS_CLIENT_TIMEOUTS.connectionTimeoutMs,
    timeouts.requestTimeoutMs ?? AWS_CLIENT_TIMEOUTS.requestTimeoutMs,
  );
}
