import { mkdir } from "node:fs/promises";
import { DEFAULT_LOOKBACK_DAYS } from "@hls-s2/core/config";
import { objectKeyFor } from "@hls-s2/core/domain";
import { GranuleStore } from "@hls-s2/core/store";
import {
  PUSH_DOWNLOAD_INPUT,
  parsePushNotification,
  planWindow,
  recordPushedGranule,
} from "@hls-s2/core/usecases";
import {
  type LocalLambdaOptions,
  listExecutionRecords,
  MOCK_CREDENTIALS,
  type OverlappingExecution,
  runLocalOverlapping,
  startEmbeddedStores,
} from "@hls-s2/local";
import type { MockProduct } from "@hls-s2/mock-hub";
import { requireEmptyFolder } from "@hls-s2/testing/data-folder";
import { documentClientOf } from "@hls-s2/testing/dynamo";
import { checkInvariants, type InvariantReport } from "@hls-s2/testing/invariants";
import { type LossyProxy, startLossyProxy } from "@hls-s2/testing/lossy-proxy";
import { type StalledS3, stallS3Parts } from "@hls-s2/testing/stalled-s3";
import { shareSynthesis, useSharedSynthesis } from "../reliability/helpers";
import { ChaosWorld } from "./world";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface ChaosOptions {
  /**
   * A new or empty folder for the table and buckets; runChaos refuses one that holds anything, since an
   * earlier run's granules and objects would be checked against this run's hub.
   */
  dataDir: string;
  /** Consecutive publication days (≥ 1). */
  days: number;
  granulesPerDay: number;
  seed: string;
  /** Simulated minutes between push runs inside the hour without checksums; default 5 (CDSE's slot). */
  pushEveryMinutes?: number;
  /**
   * How long a stalled part holds its Download invocation before it ends as at its Lambda timeout, wall
   * milliseconds from the stall; default 5,000.
   */
  downloadTimeoutMs?: number;
  /** Reconciliation horizon the check holds the table to; default 7 days. */
  horizonDays?: number;
  /** SEARCH_PAGE_SIZE of the runs: small, so each (day, platform) search has several pages; default 10. */
  searchPageSize?: number;
  /** Push runs at 06:00 and 18:00 of each day besides the noon one; default true (the short form: false). */
  morningAndEveningPushes?: boolean;
  /** Multi-part products (for stalled parts); default 3. */
  bigProducts?: number;
  /** DynamoDB stand-in; default dynalite (starts in a fraction of DynamoDB Local's 3.5 s per phase). */
  dynamo?: "dynalite" | "auto";
  log?: (line: string) => void;
}

export interface ChaosResult {
  report: InvariantReport;
  phases: { at: string; executions: { name: string; window: string; status: string; error?: string }[] }[];
  injected: Record<string, number>;
  granules: number;
  wallSeconds: number;
}

interface Phase {
  at: Date;
  executions: (OverlappingExecution & { kind: "daily" | "push" | "backfill" })[];
}

/**
 * The chaos run: `days` publication days of a hub that keeps publishing, searched and downloaded by
 * overlapping daily, push and backfill executions of the local mode while every fault of issue 22 is
 * injected; then the invariant check of the table, the bucket and the upload folder. See docs/chaos.md.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  await requireEmptyFolder(options.dataDir);
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const pushEvery = options.pushEveryMinutes ?? 5;
  // The last run (the horizon's end) stays 2 days before the real today: GenerateQueries refuses a
  // day after its today, and FetchPage drops acquisitions older than 30 days (MAX_ACQUISITION_AGE_DAYS).
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const first = today - (settleDays(options.horizonDays ?? 7, options.days) + 3) * DAY_MS;
  const days = Array.from({ length: options.days }, (_, k) => dayOf(first + k * DAY_MS));
  const lateFrom = new Date(first + Math.min(1, options.days - 1) * DAY_MS + 10 * 60 * MINUTE_MS);
  const world = await ChaosWorld.start({
    seed: options.seed,
    days,
    granulesPerDay: options.granulesPerDay,
    productSize: { min: 16 * 1024, max: 96 * 1024 },
    bigProducts: options.bigProducts ?? 3,
    pushLost,
    tieEvery: 5,
    ingestPerPage: 2,
    withdrawPerPhase: 1,
    checksumLate: { from: lateFrom, minutes: 60 },
  });
  const injected: Record<string, number> = {
    stalledParts: 0,
    lostDynamoResponses: 0,
    killedFetchPage: 0,
    killedDownload: 0,
    pushes: 0,
    duplicatePushes: 0,
  };
  const phases: ChaosResult["phases"] = [];
  try {
    await mkdir(options.dataDir, { recursive: true });
    await useSharedSynthesis(options.dataDir);
    if ((options.dynamo ?? "dynalite") === "dynalite") {
      // A folder holding dynalite data keeps dynalite (embedded.ts): create it so before the first run.
      const stores = await startEmbeddedStores({ dataDir: options.dataDir, dynamo: "dynalite" });
      await stores.close();
    }
    const pushed = new Set<string>();
    const stalledKeys = new Set<string>();
    // The Download invocations of each multi-part product not stalled yet, any of which may send the
    // part the proxy stalls: ended downloadTimeoutMs after that stall, standing for its 900 s timeout.
    const stallable = new Map<string, AbortController[]>();
    const endStalledInvocations = (key: string) => {
      const invocations = stallable.get(key) ?? [];
      stallable.delete(key);
      // The ones already ended ignore it (only the lease holder uploads parts, the others end at once).
      setTimeout(() => {
        for (const invocation of invocations) invocation.abort();
      }, options.downloadTimeoutMs ?? 5000).unref();
    };
    const pushLost = new Set<string>();
    const invocations = { FetchPage: 0, Download: 0 };
    const onInvoke: NonNullable<LocalLambdaOptions["onInvoke"]> = ({ functionName, payload }) => {
      if (functionName === "FetchPage") {
        // Killed as it starts: the page is not read, the cursor not moved.
        if (++invocations.FetchPage % 17 === 0) return count("killedFetchPage", { killAfterMs: 0 });
      } else if (functionName === "Download") {
        // Killed mid-transfer.
        if (++invocations.Download % 53 === 0) return count("killedDownload", { killAfterMs: 300 });
        // The invocation whose part the proxy stalls (a multi-part product's first upload) is ended
        // downloadTimeoutMs after the stall, standing for its 900 s timeout. Timed from the stall, not
        // from the invocation's start: on a loaded machine an invocation may not reach its second part
        // within the time, and the one that does must still end, not wait for the S3 client's 120 s.
        const id = (payload as { granuleId?: string }).granuleId ?? "";
        const product = world.catalogue.get(id);
        const key = product === undefined ? undefined : objectKeyFor(product.name);
        if (key !== undefined && world.multipart.has(id) && !stalledKeys.has(key)) {
          const invocation = new AbortController();
          stallable.set(key, [...(stallable.get(key) ?? []), invocation]);
          return { timeoutSignal: invocation.signal };
        }
      }
      return undefined;
    };
    const count = <T>(name: string, value: T): T => {
      injected[name] = (injected[name] ?? 0) + 1;
      return value;
    };

    const horizonDays = options.horizonDays ?? 7;
    const timetable = schedule(days, lateFrom, {
      pushEvery,
      horizonDays,
      morningAndEvening: options.morningAndEveningPushes ?? true,
    });
    for (const phase of timetable) {
      world.setNow(phase.at);
      const phaseStarted = Date.now();
      let stall: StalledS3 | undefined;
      let lossy: LossyProxy | undefined;
      const specs = phase.executions.map((execution) => ({
        ...execution,
        ...(execution.kind === "push" && {
          beforeStart: () => receivePushes(world, { pushed, lost: pushLost }, phase.at, injected),
        }),
      }));
      const before = new Set((await listExecutionRecords(options.dataDir)).map((record) => record.name));
      await runLocalOverlapping(
        {
          dataDir: options.dataDir,
          hub: { kind: "dhus", url: `${world.url}`, credentials: MOCK_CREDENTIALS },
          allTiles: true,
          concurrency: 15,
          retryDelayMs: 5,
          // Few entries a page, so each (day, platform) search has several pages to shift.
          lambdaEnv: { SEARCH_PAGE_SIZE: String(options.searchPageSize ?? 10) },
          now: phase.at,
          interpose: {
            // The second UploadPart of each multi-part product never gets an answer (once per product).
            s3: async (endpoint) => {
              stall = await stallS3Parts(endpoint, (part) => {
                if (part.partNumber !== 2 || stalledKeys.has(part.key)) return false;
                stalledKeys.add(part.key);
                endStalledInvocations(part.key);
                return true;
              });
              return stall;
            },
            // Every 29th write of the handlers is applied and its answer lost.
            dynamodb: async (endpoint) => {
              lossy = await startLossyProxy(endpoint);
              let writes = 0;
              lossy.loseNext(
                (request) => ["UpdateItem", "PutItem"].includes(request.operation) && ++writes % 29 === 0,
                Number.POSITIVE_INFINITY,
              );
              const proxy = lossy;
              return { url: proxy.endpoint, close: () => proxy.close() };
            },
          },
          lambda: { onInvoke },
        },
        specs,
      ).catch(() => undefined);
      injected["stalledParts"]! += stall?.stalledParts.length ?? 0;
      injected["lostDynamoResponses"]! += lossy?.lost.length ?? 0;
      // Every execution's outcome, from the records the runner keeps (a failure outside a Map Run throws).
      const records = (await listExecutionRecords(options.dataDir)).filter(
        (record) => !before.has(record.name),
      );
      const executions = records.map((record) => ({
        name: kindOf(record.name, phase),
        window: `${record.window.from}..${record.window.to}`,
        status: record.status,
        ...(record.error !== undefined && {
          error: `${record.error.name} in ${record.failedState?.name ?? "?"}`,
        }),
      }));
      phases.push({ at: phase.at.toISOString(), executions });
      log(
        `${phase.at.toISOString().slice(0, 16)} ${((Date.now() - phaseStarted) / 1000).toFixed(1).padStart(5)} s  ${executions
          .map((e) => `${e.name} ${e.window} ${e.status}${e.error === undefined ? "" : ` (${e.error})`}`)
          .join("; ")}`,
      );
    }

    await shareSynthesis(options.dataDir);
    // Checked the day after the last run, when the first day has left every run's horizon.
    const end = new Date(Date.parse(timetable[timetable.length - 1]!.at.toISOString()) + DAY_MS);
    const stores = await startEmbeddedStores({ dataDir: options.dataDir });
    try {
      const store = new GranuleStore(documentClientOf(stores.dynamo), { tableName: stores.tableName });
      const expected = await Promise.all(
        world.kept().map(async (product) => ({
          granuleId: product.id,
          day: product.day,
          md5: await world.catalogue.expectedMd5Async(product.id),
          note: [...world.notesOf(product.id), ...(pushLost.has(product.id) ? ["push lost"] : [])].join(", "),
        })),
      );
      const report = await checkInvariants({
        stores,
        store,
        days,
        now: end,
        horizonDays,
        expected,
      });
      Object.assign(injected, {
        ingestedDuringPaging: world.events.ingestedDuringPaging,
        withdrawnBetweenPages: world.events.withdrawn.length,
        tiedProducts: world.events.tiedProducts,
        checksumLatePhases: world.events.checksumLatePhases,
      });
      return {
        report,
        phases,
        injected,
        granules: world.kept().length,
        wallSeconds: (Date.now() - started) / 1000,
      };
    } finally {
      await stores.close();
    }
  } finally {
    await world.close();
  }
}

/**
 * The simulated timetable. Each day D (and the day after the last): push runs at 06:00 and 18:00; on the
 * second day push runs every `pushEvery` minutes through the hour without checksums (10:00–11:00); at
 * 12:00 the daily run (for the days before D) overlapping a push run, and on the first and last days a
 * backfill of every day up to D (today included, so the hub ingests while it pages).
 */
function schedule(
  days: string[],
  lateFrom: Date,
  options: { pushEvery: number; horizonDays: number; morningAndEvening: boolean },
): Phase[] {
  const phases: Phase[] = [];
  const first = Date.parse(`${days[0]}T00:00:00Z`);
  for (let k = 0; k <= days.length; k++) {
    const midnight = first + k * DAY_MS;
    const at = (hours: number, minutes = 0) => new Date(midnight + hours * 3_600_000 + minutes * MINUTE_MS);
    if (options.morningAndEvening) phases.push({ at: at(6), executions: [push(at(6))] });
    if (midnight === Date.parse(`${dayOf(lateFrom.getTime())}T00:00:00Z`)) {
      for (let m = 0; m < 60; m += options.pushEvery) {
        const t = new Date(lateFrom.getTime() + m * MINUTE_MS);
        phases.push({ at: t, executions: [push(t)] });
      }
    }
    const noon = at(12);
    const daily = planWindow({}, { today: noon, lookbackDays: DEFAULT_LOOKBACK_DAYS });
    const executions: Phase["executions"] = [];
    if (k > 0) executions.push({ kind: "daily", from: daily.from, to: daily.to });
    executions.push({ ...push(noon), delayMs: 400 });
    if (k === 0 || k === days.length - 1) {
      executions.push({ kind: "backfill", from: days[0]!, to: dayOf(midnight), delayMs: 800 });
    }
    phases.push({ at: noon, executions });
    if (options.morningAndEvening) phases.push({ at: at(18), executions: [push(at(18))] });
  }
  // The last daily run whose horizon (`horizonDays` ending today) still holds the first day, with
  // nothing new published since: what it leaves unfinished there, no later run reaches.
  const settle = new Date(first + settleDays(options.horizonDays, days.length) * DAY_MS + 12 * 3_600_000);
  const window = planWindow({}, { today: settle, lookbackDays: DEFAULT_LOOKBACK_DAYS });
  phases.push({
    at: settle,
    executions: [
      { kind: "daily", from: window.from, to: window.to },
      { ...push(settle), delayMs: 400 },
    ],
  });
  return phases;
}

/** A pushed-granules run at `at`: download only, over the window StartPushedDownloads gives it. */
function push(at: Date): Phase["executions"][number] {
  const window = planWindow(PUSH_DOWNLOAD_INPUT, { today: at, lookbackDays: DEFAULT_LOOKBACK_DAYS });
  return { kind: "push", downloadOnly: true, from: window.from, to: window.to };
}

/**
 * What the receive-push endpoint records before the run starts: every product published since the
 * last pushes, but one in five (a lost notification, found by the search) and one in twenty delivered
 * twice (at least once). Inside the hour without checksums the notification carries no MD5.
 */
async function receivePushes(
  world: ChaosWorld,
  { pushed, lost }: { pushed: Set<string>; lost: Set<string> },
  at: Date,
  injected: Record<string, number>,
): Promise<void> {
  const runtime = await import("@hls-s2/functions/lib/runtime");
  const store = runtime.getStore();
  const filterRules = runtime.getFilterRules();
  for (const product of world.published()) {
    if (pushed.has(product.id)) continue;
    pushed.add(product.id);
    const hash = Number.parseInt(product.id.replace(/-/g, "").slice(0, 6), 16);
    if (pushLost(product.id)) {
      lost.add(product.id);
      continue;
    }
    const body = notification(
      product,
      world.checksumsPublished() ? world.catalogue.expectedMd5(product.id) : undefined,
    );
    const deliveries = hash % 20 === 1 ? 2 : 1;
    for (let i = 0; i < deliveries; i++) {
      const parsed = parsePushNotification(body, { now: () => at });
      await recordPushedGranule(parsed, { store, filterRules });
      injected[i === 0 ? "pushes" : "duplicatePushes"]!++;
    }
  }
}

/** One notification in five is lost (drawn from the product id). */
function pushLost(id: string): boolean {
  return Number.parseInt(id.replace(/-/g, "").slice(0, 6), 16) % 5 === 0;
}

/** A CDSE "created" notification for a mock product. */
function notification(product: MockProduct, md5: string | undefined) {
  return {
    SubscriptionEvent: "created",
    ProductId: product.id,
    ProductName: `${product.name}.SAFE`,
    value: {
      Id: product.id,
      Name: `${product.name}.SAFE`,
      ContentLength: product.sizeBytes,
      PublicationDate: product.publishedAt,
      ContentDate: { Start: product.sensingStart, End: product.sensingEnd },
      Checksum: md5 === undefined ? [] : [{ Algorithm: "MD5", Value: md5.toUpperCase() }],
      Attributes: [
        { Name: "platformSerialIdentifier", Value: product.platform.slice(2) },
        { Name: "tileId", Value: product.tileId },
      ],
    },
  };
}

/** Which of the phase's executions a record is (the runner names them `local-<time>-<n>` in spec order). */
function kindOf(name: string, phase: Phase): string {
  const index = Number(/-(\d+)$/.exec(name)?.[1] ?? "1") - 1;
  return phase.executions.length === 1 ? phase.executions[0]!.kind : (phase.executions[index]?.kind ?? name);
}

/** Days from the first publication day to the last run: the horizon's last day, after the last day's run. */
function settleDays(horizonDays: number, days: number): number {
  return Math.max(horizonDays - 1, days + 1);
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
