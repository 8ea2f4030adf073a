import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { DiscoveredGranule, GranuleRecord, Platform } from "@hls-s2/core/domain";
import { GranuleStore } from "@hls-s2/core/store";
import { documentClientOf, startGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";

/** The granule table on an in-memory dynalite, without the local runtime (whose import loads the CDK). */
export interface TestTable {
  dynamo: DynamoDBClient;
  tableName: string;
  close(): Promise<void>;
}

/** A granule as a hub search would describe it, sensed and published on `day`, unique per call. */
export function buildGranule(day: string, platform: Platform, overrides: Partial<DiscoveredGranule> = {}) {
  return aDiscoveredGranule({
    platform,
    sensingStart: `${day}T10:14:19.024Z`,
    publishedAt: `${day}T12:00:00.000Z`,
    sizeBytes: 1000,
    ...overrides,
  });
}

export type Outcome =
  | { status: "DISCOVERED" }
  | { status: "DOWNLOADED"; bytes: number }
  | { status: "FAILED"; error: string }
  | { status: "DOWNLOADING"; leaseExpired: boolean };

/** Seeds the table with one granule of `day` and `platform` in the given state, through the store's own transitions. */
export async function seedGranule(
  stores: Pick<TestTable, "dynamo" | "tableName">,
  day: string,
  platform: Platform,
  outcome: Outcome,
): Promise<GranuleRecord> {
  const granule = buildGranule(day, platform);
  const store = storeOf(stores);
  await store.recordDiscovered(granule, day);
  const owner = `arn:aws:states:us-east-1:123456789012:execution:test:${granule.granuleId}`;
  if (outcome.status === "DOWNLOADED") {
    await store.claimGranule(granule.granuleId, owner);
    await store.markDownloaded(granule.granuleId, owner, {
      s3Key: `${granule.name}.zip`,
      bytesWritten: outcome.bytes,
    });
  } else if (outcome.status === "FAILED") {
    await store.claimGranule(granule.granuleId, owner);
    await store.markFailed(granule.granuleId, { name: outcome.error, message: `${outcome.error} in a test` });
  } else if (outcome.status === "DOWNLOADING") {
    // A claim made two hours ago has a lease (15 min) that ran out: its worker is gone.
    const claimer = outcome.leaseExpired
      ? new GranuleStore(documentClient(stores), {
          tableName: stores.tableName,
          now: () => new Date(Date.now() - 2 * 3_600_000),
        })
      : store;
    await claimer.claimGranule(granule.granuleId, owner);
  }
  return (await store.getGranule(granule.granuleId))!;
}

export function documentClient(stores: Pick<TestTable, "dynamo" | "tableName">): DynamoDBDocumentClient {
  return documentClientOf(stores.dynamo);
}

export function storeOf(stores: Pick<TestTable, "dynamo" | "tableName">): GranuleStore {
  return new GranuleStore(documentClient(stores), { tableName: stores.tableName });
}

/** Starts an in-memory dynalite on 127.0.0.1 with the granule table laid out as the stack creates it. */
export async function startTable(): Promise<TestTable> {
  const { client: dynamo, tableName, close } = await startGranuleTable("ops-test-granules");
  return { dynamo, tableName, close };
}

/** A distinct past day per call, so tests sharing a file's table never count each other's granules. */
export function uniqueDay(): string {
  return aUniqueDay("2024-01-01");
}
