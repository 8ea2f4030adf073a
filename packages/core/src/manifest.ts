import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { InvalidInputError } from "./errors";
import { daysBetween } from "./queries";
import type { GranuleStore } from "./store";

/** One line of the Distributed Map's manifest: what a child execution needs to find its granule. */
export interface ManifestItem {
  granuleId: string;
  name: string;
  day: string;
}

export interface ManifestInput {
  from: string;
  to: string;
  /** The parent execution's name: one manifest per execution, so a redrive reads the same items. */
  executionName: string;
}

export interface ManifestDeps {
  store: Pick<GranuleStore, "listPending">;
  s3: S3Client;
  /** The work bucket the Distributed Map's item reader reads from. */
  bucket: string;
}

export interface ManifestLocation {
  bucket: string;
  key: string;
  count: number;
}

// Step Functions names are 1–80 characters and already exclude "/" and controls; checked again
// because the name becomes an object key.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const EXECUTION_NAME = /^[^/\\\u0000-\u001f\u007f]{1,80}$/;

/** The manifest's object key for an execution. */
export function manifestKeyFor(executionName: string): string {
  return `manifests/${executionName}.json`;
}

/**
 * Writes the window's pending granules (store.listPending of each day) as a JSON array of
 * `{ granuleId, name, day }` to `manifests/<executionName>.json` in the work bucket.
 * @throws InvalidInputError on a bad window or an execution name unfit for an object key.
 */
export async function writeManifest(input: ManifestInput, deps: ManifestDeps): Promise<ManifestLocation> {
  if (!EXECUTION_NAME.test(input.executionName) || input.executionName.includes("..")) {
    throw new InvalidInputError(
      `execution name ${JSON.stringify(input.executionName)} cannot name a manifest`,
      {
        field: "executionName",
      },
    );
  }
  if (deps.bucket === "") throw new InvalidInputError("bucket is empty", { field: "bucket" });
  const days = daysBetween(input.from, input.to);

  const items: ManifestItem[] = [];
  const seen = new Set<string>();
  for (const day of days) {
    for (const granule of await deps.store.listPending(day)) {
      // The Map would start two children for one granule; the second would only find it leased.
      if (seen.has(granule.granuleId)) continue;
      seen.add(granule.granuleId);
      items.push({ granuleId: granule.granuleId, name: granule.name, day });
    }
  }

  const key = manifestKeyFor(input.executionName);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      Body: JSON.stringify(items),
      ContentType: "application/json",
    }),
  );
  return { bucket: deps.bucket, key, count: items.length };
}
