import { createHash } from "node:crypto";
import { type GranuleRecord, objectKeyFor, PLATFORMS, type Platform } from "@hls-s2/core/domain";
import { TERMINAL_ERROR_NAMES } from "@hls-s2/core/errors";
import type { GranuleStore } from "@hls-s2/core/store";
import { type EmbeddedStores, listUploads } from "@hls-s2/local";
import { granulesOf } from "./data-folder";

/** The invariants of "every granule ends" (design §10), in the order the report prints them. */
export const INVARIANTS = {
  found: "every product the hub published (and kept) is recorded",
  ends: "every granule is DOWNLOADED (or DUPLICATE), or FAILED with a terminal reason",
  object: "a DOWNLOADED granule has exactly one object, with its MD5; no object without one",
  horizon: "no granule unfinished past the reconciliation horizon",
  counters: "each (day, platform) counter's `recorded` equals the granules the index holds",
  uploads: "no multipart upload left open",
} as const;
export type InvariantName = keyof typeof INVARIANTS;

export interface Breakage {
  invariant: InvariantName;
  /** The granule, or the counter / upload / object the breakage is about. */
  subject: string;
  detail: string;
}

export interface InvariantReport {
  granules: number;
  byStatus: Record<string, number>;
  broken: Breakage[];
}

export interface InvariantInput {
  stores: EmbeddedStores;
  store: GranuleStore;
  /** The publication days to check. */
  days: readonly string[];
  /** The (simulated) time the check is made at: days before the horizon ending that day are out of reach. */
  now: Date;
  horizonDays: number;
  /**
   * The hub's products that must be recorded, each with the MD5 of the bytes it serves and, optionally,
   * what happened to it (printed when it is missing).
   */
  expected?: readonly { granuleId: string; day: string; md5: string; note?: string }[];
  /** Object key prefix of the deployment (OBJECT_PREFIX); default none. */
  objectPrefix?: string;
}

/**
 * Reads the table, the upload bucket and the embedded S3's upload folder and lists every breakage of
 * the invariants, granule by granule. Reads every object once (MD5), so keep products small.
 */
export async function checkInvariants(input: InvariantInput): Promise<InvariantReport> {
  const { stores, store } = input;
  const broken: Breakage[] = [];
  const add = (invariant: InvariantName, subject: string, detail: string) =>
    broken.push({ invariant, subject, detail });

  const records: GranuleRecord[] = [];
  for (const day of input.days) records.push(...(await granulesOf(store, day)));
  const byId = new Map(records.map((record) => [record.granuleId, record]));
  const byStatus: Record<string, number> = {};
  for (const record of records) byStatus[record.status] = (byStatus[record.status] ?? 0) + 1;

  for (const product of input.expected ?? []) {
    if (!byId.has(product.granuleId)) {
      const note = product.note === undefined || product.note === "" ? "" : ` (${product.note})`;
      add("found", product.granuleId, `published on ${product.day}, never recorded${note}`);
    }
  }

  // The horizon is `horizonDays` days ending today: an older day is reached by no run any more.
  const oldestInHorizon = new Date(input.now.getTime() - (input.horizonDays - 1) * 86_400_000)
    .toISOString()
    .slice(0, 10);
  const keys = new Set(await stores.listKeys());
  const expectedMd5 = new Map((input.expected ?? []).map((product) => [product.granuleId, product.md5]));
  const ownedKeys = new Set<string>();
  for (const record of records) {
    const terminal = (TERMINAL_ERROR_NAMES as readonly string[]).includes(record.lastError?.name ?? "");
    const status: string = record.status;
    // DUPLICATE (a second id of a name another granule holds; the `once` branch) ends there too.
    const finished = status === "DOWNLOADED" || status === "DUPLICATE" || (status === "FAILED" && terminal);
    if (!finished) {
      const reason = record.lastError === undefined ? "" : `, last error ${record.lastError.name}`;
      add("ends", record.granuleId, `${record.status} after ${record.attempts} attempt(s)${reason}`);
      if (record.day < oldestInHorizon) {
        add("horizon", record.granuleId, `${record.status}, day ${record.day} left the horizon`);
      }
    }
    const key = objectKeyFor(record.name, input.objectPrefix);
    if (status === "DUPLICATE") continue;
    if (record.status !== "DOWNLOADED") {
      if (keys.has(key)) add("object", record.granuleId, `${record.status} but object ${key} exists`);
      continue;
    }
    ownedKeys.add(key);
    const bytes = keys.has(key) ? await stores.readObject(key) : undefined;
    if (bytes === undefined) {
      add("object", record.granuleId, `DOWNLOADED without object ${key}`);
      continue;
    }
    const md5 = createHash("md5").update(bytes).digest("hex");
    const want = expectedMd5.get(record.granuleId) ?? record.checksum?.value;
    if (want === undefined || md5 !== want.toLowerCase()) {
      add("object", record.granuleId, `object MD5 ${md5}, expected ${want ?? "(none recorded)"}`);
    }
  }
  for (const key of keys) {
    if (!ownedKeys.has(key)) add("object", key, "object without a DOWNLOADED granule");
  }

  const platforms = new Set<Platform>([...PLATFORMS, ...records.map((record) => record.platform)]);
  for (const day of input.days) {
    for (const platform of platforms) {
      const indexed = records.filter((record) => record.day === day && record.platform === platform).length;
      const recorded = (await store.getFetchProgress(day, platform))?.recorded ?? 0;
      if (recorded !== indexed) {
        add("counters", `${day} ${platform}`, `recorded ${recorded}, index holds ${indexed}`);
      }
    }
  }

  const granuleOfKey = new Map(
    records.map((record) => [objectKeyFor(record.name, input.objectPrefix), record]),
  );
  for (const upload of await listUploads(stores.s3Directory, stores.bucketName)) {
    const owner = granuleOfKey.get(upload.key);
    add("uploads", owner?.granuleId ?? upload.key, `upload ${upload.uploadId} of ${upload.key} open`);
  }
  return { granules: records.length, byStatus, broken };
}

/**
 * A short table of the report: one line per invariant (held, or how many broke), then up to
 * `examples` breakages of each with their subject (granule id) and detail.
 */
export function formatInvariantReport(report: InvariantReport, examples = 5): string {
  const lines = [
    `granules ${report.granules}: ${Object.entries(report.byStatus)
      .map(([status, n]) => `${status} ${n}`)
      .join(", ")}`,
  ];
  for (const [name, text] of Object.entries(INVARIANTS) as [InvariantName, string][]) {
    const broken = report.broken.filter((breakage) => breakage.invariant === name);
    lines.push(
      `${broken.length === 0 ? "held " : "BROKE"}  ${name.padEnd(8)} ${broken.length.toString().padStart(5)}  ${text}`,
    );
    const reasons = new Map<string, number>();
    for (const breakage of broken) {
      const reason = breakage.detail.replace(
        /[0-9a-f]{32}|\d{4}-\d\d-\d\dT[\d:.]+Z|upload \S+|\d+ attempt/g,
        "…",
      );
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 3)) {
      lines.push(`         ${n.toString().padStart(5)} × ${reason}`);
    }
    for (const breakage of broken.slice(0, examples))
      lines.push(`         - ${breakage.subject}: ${breakage.detail}`);
  }
  return lines.join("\n");
}
