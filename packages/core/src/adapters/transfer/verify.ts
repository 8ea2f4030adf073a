import { ArchiveInvalidError, ChecksumMismatchError, type DownloaderError } from "../../domain/errors";
import { ZipCheck } from "../../domain/zip/check";
import type { TransferInput } from "./options";

/** The zip check of a transfer whose input asks for one (`archive`), else undefined. */
export async function createArchiveCheck(input: TransferInput): Promise<ZipCheck | undefined> {
  return input.archive === undefined ? undefined : ZipCheck.create(input.archive.safeFolder);
}

/** The exact byte count the hub states, when it states one (a size tolerance of 0). */
export function exactLengthOf(input: TransferInput): number | undefined {
  return (input.sizeToleranceBytes ?? 0) === 0 ? input.expectedSizeBytes : undefined;
}

/**
 * Why the streamed bytes must not become an object, as the error to throw once the upload is aborted:
 * an MD5 other than the hub's (checked first: bytes that changed in transit say nothing of the archive
 * the hub holds), or an archive that fails its check; undefined when they may.
 */
export function refusalOf(
  input: TransferInput,
  md5: string,
  blake3: string | undefined,
  zip: ZipCheck | undefined,
): ((options?: ErrorOptions) => DownloaderError) | undefined {
  const expected = input.expectedMd5?.toLowerCase();
  if (expected !== undefined && md5 !== expected) {
    return (options) => new ChecksumMismatchError(input.granuleId, expected, md5, options);
  }
  const expectedBlake3 = input.expectedBlake3?.toLowerCase();
  if (expectedBlake3 !== undefined && blake3 !== expectedBlake3) {
    const actual = blake3 ?? "(none)";
    return (options) =>
      new ChecksumMismatchError(input.granuleId, expectedBlake3, actual, { ...options, algorithm: "BLAKE3" });
  }
  const failure = zip?.finish(exactLengthOf(input));
  if (failure !== undefined) return (options) => new ArchiveInvalidError(input.granuleId, failure, options);
  return undefined;
}
