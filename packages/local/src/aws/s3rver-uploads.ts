import { readdir, readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";

// s3rver's own on-disk layout of multipart uploads and its error class, which the gap handlers reuse.

const require = createRequire(import.meta.url);
export const S3Error = require("s3rver/lib/models/error") as new (
  code: string,
  message?: string,
  detail?: Record<string, unknown>,
) => Error;

const UPLOADS_FOLDER = "._S3rver_uploads";

/** The rest of s3rver's middleware chain. */
export type Next = () => Promise<void>;

export interface Upload {
  uploadId: string;
  key: string;
  folder: string;
  initiated: Date;
  /** The `x-amz-checksum-algorithm` CreateMultipartUpload named, lower case; undefined when none. */
  checksumAlgorithm: string | undefined;
}

function uploadsFolder(directory: string, bucket: string): string {
  return join(directory, bucket, UPLOADS_FOLDER);
}

export async function readUpload(
  directory: string,
  bucket: string,
  uploadId: string,
): Promise<Upload | undefined> {
  // An id is a folder name: refuse anything that could walk out of the uploads folder.
  if (!/^[A-Za-z0-9._-]+$/.test(uploadId) || uploadId.startsWith(".")) return undefined;
  const folder = join(uploadsFolder(directory, bucket), uploadId);
  try {
    const [key, info, metadata] = await Promise.all([
      readFile(join(folder, "key"), "utf8"),
      stat(folder),
      // s3rver keeps the Create request's headers here, x-amz-checksum-algorithm among them.
      readFile(join(folder, "metadata"), "utf8").catch(() => "{}"),
    ]);
    const algorithm = (JSON.parse(metadata) as Record<string, unknown>)["x-amz-checksum-algorithm"];
    return {
      uploadId,
      key,
      folder,
      initiated: info.birthtime,
      checksumAlgorithm:
        typeof algorithm === "string" && algorithm !== "" ? algorithm.toLowerCase() : undefined,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Every unfinished upload of a bucket, oldest first (what ListMultipartUploads answers). */
export async function listUploads(directory: string, bucket: string): Promise<Upload[]> {
  let names: string[];
  try {
    names = await readdir(uploadsFolder(directory, bucket));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const uploads = await Promise.all(names.map((name) => readUpload(directory, bucket, name)));
  return uploads
    .filter((upload): upload is Upload => upload !== undefined)
    .sort((a, b) => a.key.localeCompare(b.key) || a.initiated.getTime() - b.initiated.getTime());
}
