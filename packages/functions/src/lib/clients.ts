import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

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

/** The one S3 client constructor: the given settings (endpoint, credentials…) plus our checksum rules. */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  return new S3Client({ ...config, ...S3_CHECKSUM_SETTINGS });
}
