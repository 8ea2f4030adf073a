import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRANULE_STATUSES, type GranuleRecord } from "@hls-s2/core/domain";
import { GranuleStore } from "@hls-s2/core/store";
import {
  type EmbeddedStores,
  type EmbeddedStoresInput,
  listUploads,
  startEmbeddedStores,
} from "@hls-s2/local";
import { afterEach } from "vitest";
import { documentClientOf } from "./dynamo";

/**
 * Lambda environment (runLocal's `lambdaEnv`) of a test whose window lies months before today and
 * that is not about the reconciliation horizon: the horizon's days (ending today) hold nothing in its
 * table either way, and a 1-day horizon reads that nothing with 72 DynamoDB queries instead of 504
 * (WriteManifest 7 days, Summarize's age check 14, × 3 statuses × 8 index shards): two thirds of a
 * small day's DynamoDB calls (measured 692 → 260 for three granules).
 */
export const SHORT_HORIZON_ENV: Readonly<Record<string, string>> = { RECONCILIATION_HORIZON_DAYS: "1" };

/** Cleanups a test adds as it goes; `run` runs them, the last added first. */
export interface Cleanups {
  add(cleanup: () => Promise<unknown>): void;
  run(): Promise<void>;
}

/** Collects cleanups that afterEach runs in reverse order. */
export function cleanupList(): Cleanups {
  const cleanups: (() => Promise<unknown>)[] = [];
  return {
    add: (cleanup) => {
      cleanups.push(cleanup);
    },
    run: async () => {
      while (cleanups.length > 0) await cleanups.pop()!();
    },
  };
}

/** A cleanup list the file's afterEach runs after every test. */
export function useCleanups(): Cleanups {
  const cleanups = cleanupList();
  afterEach(() => cleanups.run());
  return cleanups;
}

/** A fresh local-mode data folder, removed by the cleanups. */
export async function tempDataDir(cleanups: Pick<Cleanups, "add">, prefix = "hls-s2-rel-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.add(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Refuses a data folder that holds anything, for a run whose check reads the whole table and bucket: a
 * reused folder keeps an earlier run's granules and objects (with the same seed and days, the same ids
 * and names), which the new run neither searches nor downloads again but the check holds to its hub.
 * @throws RangeError when `dataDir` exists and is not empty.
 */
export async function requireEmptyFolder(dataDir: string): Promise<void> {
  const entries = await readdir(dataDir).then(
    (names) => names.sort(),
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    },
  );
  if (entries.length > 0) {
    const listed = `${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", …" : ""}`;
    throw new RangeError(
      `${dataDir} is not empty (${listed}): an earlier run's table and objects would be checked against this run; give a new or empty folder`,
    );
  }
}

export interface OpenedData {
  stores: EmbeddedStores;
  store: GranuleStore;
}

/**
 * Reopens a finished run's data folder to inspect its table and buckets; the folder's own stand-in by
 * default. A fresh folder takes `dynamo` ("auto": DynamoDB Local when a JDK runs).
 */
export async function reopen(
  dataDir: string,
  cleanups: Pick<Cleanups, "add">,
  dynamo: EmbeddedStoresInput["dynamo"] = "auto",
): Promise<OpenedData> {
  const stores = await startEmbeddedStores({ dataDir, dynamo });
  // A test may close early to hand the folder to the next run.
  cleanups.add(() => stores.close().catch(() => undefined));
  const store = new GranuleStore(documentClientOf(stores.dynamo), { tableName: stores.tableName });
  return { stores, store };
}

/** Every granule of `day` in the table, whatever its status. */
export async function granulesOf(store: GranuleStore, day: string): Promise<GranuleRecord[]> {
  const lists = await Promise.all(GRANULE_STATUSES.map((status) => store.listByStatus(day, status)));
  return lists.flat();
}

/** The MD5 of an object in the embedded upload bucket; undefined when there is no such object. */
export async function objectMd5(stores: EmbeddedStores, key: string): Promise<string | undefined> {
  const bytes = await stores.readObject(key);
  return bytes === undefined ? undefined : createHash("md5").update(bytes).digest("hex");
}

/** The multipart uploads the embedded S3 still holds open. */
export async function incompleteUploads(stores: EmbeddedStores): Promise<unknown[]> {
  return listUploads(stores.s3Directory, stores.bucketName);
}
