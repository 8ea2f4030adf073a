import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type DiscoveredGranule, type GranuleRecord, GranuleStore, type Platform } from "@hls-s2/core";
// Core's test helpers are not part of its package exports, so they are reached by path.
import { createGranuleTable, startLocalDynamo } from "../../../core/test/helpers/dynamo";

/** The granule table on an in-memory dynalite, without the local runtime (whose import loads the CDK). */
export interface TestTable {
  dynamo: DynamoDBClient;
  tableName: string;
  close(): Promise<void>;
}

/** A granule as a hub search would describe it, unique per call. */
export function buildGranule(day: string, platform: Platform, overrides: Partial<DiscoveredGranule> = {}) {
  const compact = day.replaceAll("-", "");
  const suffix = randomUUID().replaceAll("-", "").slice(0, 6).toUpperCase();
  return {
    granuleId: randomUUID(),
    name: `${platform}_MSIL1C_${compact}T101419_N0510_R022_T32TQM_${compact}T${suffix}`,
    tileId: "32TQM",
    platform,
    sensingStart: `${day}T10:14:19.024Z`,
    sensingEnd: `${day}T10:14:19.024Z`,
    publishedAt: `${day}T12:00:00.000Z`,
    sizeBytes: 1000,
    ...overrides,
  } satisfies DiscoveredGranule;
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
  return DynamoDBDocumentClient.from(stores.dynamo, { marshallOptions: { removeUndefinedValues: true } });
}

export function storeOf(stores: Pick<TestTable, "dynamo" | "tableName">): GranuleStore {
  return new GranuleStore(documentClient(stores), { tableName: stores.tableName });
}

/** Starts an in-memory dynalite on 127.0.0.1 with the granule table laid out as the stack creates it. */
export async function startTable(): Promise<TestTable> {
  const { client: dynamo, close } = await startLocalDynamo();
  const tableName = "ops-test-granules";
  await createGranuleTable(dynamo, tableName);
  return { dynamo, tableName, close };
}

let dayCounter = 0;

/** A distinct past day per call, so tests sharing a file's table never count each other's granules. */
export function uniqueDay(): string {
  dayCounter++;
  return new Date(Date.UTC(2024, 0, 1) + dayCounter * 86_400_000).toISOString().slice(0, 10);
}
