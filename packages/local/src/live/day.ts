import { createServer, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { formatDay, type GranuleRecord, latencyStats } from "@hls-s2/core/domain";
import { CdseTokenManager, createSubscription } from "@hls-s2/core/hub";
import type { GranuleStore } from "@hls-s2/core/store";
import {
  ABNORMAL_END_MARGIN_MS,
  parsePushNotification,
  recordPushedGranule,
  startPushedDownloads,
} from "@hls-s2/core/usecases";
import { LOCAL_STATE_MACHINE_ARN } from "../aws";
import { runLocalDriven } from "../run";
import { type LiveRelease, liveCatalogue, planLiveDay, SIMULATED_DAY_MS } from "./catalogue";
import { LocalStepFunctions } from "./executions";
import { idealLatencyMinutes, pushPlan } from "./ideal";

const MINUTE_MS = 60_000;
const PUSH_CREDENTIALS = { username: "cdse-push", password: "local-push" };

export interface LiveDayOptions {
  dataDir: string;
  /** Granules the hub publishes over a whole simulated day. */
  granules: number;
  /** Simulated milliseconds per real millisecond. */
  speed: number;
  /** Of the day, the share played (0–1]: the rate stays a day's; default 1. */
  dayShare?: number;
  /** Share of products pushed (0–1); the rest only a poll finds. */
  pushShare: number;
  /** Of the pushed, the share sent late (30–180 simulated minutes after publication). */
  lateShare: number;
  /** The continuous mode's poll interval (simulated minutes). */
  pollMinutes: number;
  /** The hub's concurrent downloads (HUB_DOWNLOAD_SLOTS, and the mock's 429 limit). */
  hubDownloads: number;
  /** Product sizes as served (the real ones scaled down). */
  sizeBytes: { min: number; max: number };
  /** Per-connection rate of the mock hub (bytes/s of the real clock). */
  bytesPerSecond: number;
  /** Simulated minutes the run waits after the last publication for the last downloads; default 120. */
  drainMinutes?: number;
  seed?: string;
  /** The table's stand-in (default "auto": DynamoDB Local when a JDK runs, else dynalite). */
  dynamo?: "auto" | "dynamodb-local" | "dynalite";
  /** Called about every simulated hour with the progress so far. */
  onProgress?: (line: string) => void;
}

export interface LiveDaySummary {
  granules: number;
  delivered: number;
  /** Download children that returned "downloaded", over every run: one per granule when exactly once. */
  downloadedOutcomes: number;
  objects: number;
  pushed: number;
  pushedLate: number;
  pushesDropped: number;
  /** Answers 429 of the mock hub (its limit is hubDownloads), and the most downloads it served at once. */
  throttled: number;
  peakDownloads: number;
  runs: { pushed: number; poll: number; failed: number };
  /** Publication → verified object in simulated minutes. */
  latencyMinutes: { p50?: number; p95?: number; max?: number };
  /** Publication → recorded in the table (by a push or a poll), simulated minutes: the share of discovery. */
  recordedMinutes: { p50?: number; p95?: number; max?: number };
  /** The same for an ideal downloader on the same day and hub (ideal.ts): the bound no design beats. */
  idealLatencyMinutes: { p50?: number; p95?: number; max?: number };
  /** Download retries (nearly all waits for a hub slot) per granule, over every run. */
  retriesPerGranule: number;
  realSeconds: number;
  exactlyOnce: boolean;
}

/** The plan of the day the options play: its products and their publication offsets. */
function planOf(options: Omit<LiveDayOptions, "dataDir">) {
  return planLiveDay({
    seed: options.seed ?? "hls-s2-live",
    granules: options.granules,
    day: formatDay(Date.now()),
    sizeBytes: options.sizeBytes,
    dayShare: options.dayShare ?? 1,
  });
}

/** The ideal downloader's latency on the day and hub the options describe (ideal.ts), without running it. */
export function idealLiveDay(
  options: Omit<LiveDayOptions, "dataDir">,
): LiveDaySummary["idealLatencyMinutes"] {
  return idealLatencyMinutes(planOf(options).releases, {
    pollMinutes: options.pollMinutes,
    pushShare: options.pushShare,
    lateShare: options.lateShare,
    downloads: options.hubDownloads,
    bytesPerSecond: options.bytesPerSecond,
    speed: options.speed,
  });
}

/**
 * A time-compressed live day: the mock hub (CDSE API) publishes a day's catalogue in datatake bursts on
 * a clock `speed` times faster than real, pushes a share of it (some late, the rest never) through a push
 * subscription to a local endpoint that records as the deployed receiver does, while the continuous
 * mode runs as the stage would: every simulated minute core's starter decides on a pushed-granules run,
 * every `pollMinutes` it starts a poll. Every run's downloads share the hub slots.
 */
export async function runLiveDay(options: LiveDayOptions): Promise<LiveDaySummary> {
  const { speed } = options;
  const { releases, base } = planOf(options);
  const catalogue = liveCatalogue(releases, base);
  const drainMs = ((options.drainMinutes ?? 120) * MINUTE_MS) / speed;

  return runLocalDriven(
    {
      dataDir: options.dataDir,
      clean: true,
      mockKind: "cdse",
      ...(options.dynamo === undefined ? {} : { dynamo: options.dynamo }),
      mockCatalogue: catalogue,
      allTiles: true,
      hubSlots: options.hubDownloads,
      mockMaxDownloads: options.hubDownloads,
      mockBandwidthBytesPerSecond: options.bytesPerSecond,
      lambdaEnv: { LOOKBACK_DAYS: "1" },
      // A Retry waits as long on the simulated clock as the deployed one does on average: a child
      // waiting for a hub slot backs off to 60 s with full jitter (SLOT_WAIT_RETRY), ~30 s.
      retryDelayMs: Math.round(30_000 / speed),
    },
    async ({ start, stores, hub }) => {
      const runtime = await import("@hls-s2/functions/lib/runtime");
      const store = runtime.getStore();
      const receiver = await startPushEndpoint(async (body) => {
        await recordPushedGranule(parsePushNotification(body), {
          store,
          filterRules: runtime.getFilterRules(),
        });
      });
      // The day starts once everything listens: the first product is published a moment later.
      const startMs = Date.now() + 1_000;
      catalogue.begin(startMs, speed);
      const lastRelease = releases.at(-1)?.releaseMs ?? startMs;
      try {
        await createSubscription(
          { endpoint: `${receiver.url}/events`, credentials: PUSH_CREDENTIALS },
          {
            catalogueUrl: hub.url,
            tokens: new CdseTokenManager({
              tokenUrl: `${hub.url}/auth/realms/CDSE/protocol/openid-connect/token`,
              credentials: hub.credentials,
            }),
          },
        );
        const pushes = schedulePushes(releases, options, hub.url);
        const sfn = new LocalStepFunctions(start);
        // The starter names a run by its firing's minute: the simulated minute, on the real day.
        const dayStart = Date.parse(`${formatDay(startMs)}T00:00:00.000Z`);
        let tick = 0;
        const runs = { pushed: 0, poll: 0, failed: 0 };
        const deps = { store, sfn: sfn.client, stateMachineArn: LOCAL_STATE_MACHINE_ARN };
        const allDelivered = async () =>
          Date.now() > lastRelease && (await delivered(store, releases)).length === releases.length;
        while (Date.now() < lastRelease + drainMs) {
          const firing = new Date(dayStart + (tick % (SIMULATED_DAY_MS / MINUTE_MS)) * MINUTE_MS);
          const common = {
            now: () => firing,
            lookbackDays: 1,
            overlapMs: 30_000 / speed,
            abnormalEndMarginMs: ABNORMAL_END_MARGIN_MS / speed,
          };
          if (tick % options.pollMinutes === 0) {
            if ((await startPushedDownloads(deps, { ...common, kind: "poll" })).started) runs.poll++;
          }
          if ((await startPushedDownloads(deps, common)).started) runs.pushed++;
          if (tick % 10 === 0) options.onProgress?.(await progressLine(store, releases, tick, runs));
          // After the last publication every simulated minute: the drain ends as soon as all is delivered.
          if ((tick % 10 === 0 || Date.now() > lastRelease) && (await allDelivered())) break;
          tick++;
          await sleep(Math.max(0, startMs + (tick * MINUTE_MS) / speed - Date.now()));
        }
        pushes.cancel();
        await sfn.settled();
        runs.failed = sfn.executions.filter((execution) => execution.status === "FAILED").length;
        const records = await delivered(store, releases);
        const latency = latencyStats(records);
        const toMinutes = (seconds: number | undefined) =>
          seconds === undefined ? undefined : Math.round(((seconds * speed) / 60) * 10) / 10;
        const minutesOf = (stats: ReturnType<typeof latencyStats>) => ({
          p50: toMinutes(stats.p50Seconds),
          p95: toMinutes(stats.p95Seconds),
          max: toMinutes(stats.maxSeconds),
        });
        const objects = (await stores.listKeys()).length;
        const downloadedOutcomes = sfn.executions.reduce((sum, e) => sum + (e.state?.downloaded ?? 0), 0);
        const retries = sfn.executions.reduce((sum, e) => sum + (e.state?.retries ?? 0), 0);
        const gate = hub.mock?.stats.downloads.snapshot();
        return {
          granules: releases.length,
          delivered: records.length,
          downloadedOutcomes,
          objects,
          ...pushes.counts,
          throttled: gate?.refused ?? 0,
          peakDownloads: gate?.peak ?? 0,
          runs,
          latencyMinutes: minutesOf(latency),
          recordedMinutes: minutesOf(
            latencyStats(records.map((record) => ({ ...record, downloadedAt: record.createdAt }))),
          ),
          idealLatencyMinutes: idealLatencyMinutes(releases, {
            pollMinutes: options.pollMinutes,
            pushShare: options.pushShare,
            lateShare: options.lateShare,
            downloads: options.hubDownloads,
            bytesPerSecond: options.bytesPerSecond,
            speed,
          }),
          retriesPerGranule: Math.round((retries / Math.max(1, releases.length)) * 10) / 10,
          realSeconds: Math.round((Date.now() - startMs) / 1000),
          exactlyOnce:
            records.length === releases.length &&
            objects === releases.length &&
            downloadedOutcomes === releases.length,
        };
      } finally {
        await receiver.close();
      }
    },
  );
}

type LiveStore = Pick<GranuleStore, "listByStatus">;

/** The DOWNLOADED records of the day's products (one index read per publication day). */
async function delivered(store: LiveStore, releases: readonly LiveRelease[]): Promise<GranuleRecord[]> {
  const ids = new Set(releases.map((release) => release.product.id));
  const days = [...new Set(releases.map((release) => release.product.day))];
  const lists = await Promise.all(days.map((day) => store.listByStatus(day, "DOWNLOADED")));
  return lists.flat().filter((record) => ids.has(record.granuleId));
}

async function progressLine(
  store: LiveStore,
  releases: readonly LiveRelease[],
  tick: number,
  runs: { pushed: number; poll: number },
): Promise<string> {
  const published = releases.filter((release) => release.releaseMs <= Date.now()).length;
  const done = (await delivered(store, releases)).length;
  const hour = String(Math.floor(tick / 60)).padStart(2, "0");
  const minute = String(tick % 60).padStart(2, "0");
  return `simulated ${hour}:${minute}  real ${new Date().toISOString().slice(11, 19)}  published ${published}  delivered ${done}  runs ${runs.pushed} pushed, ${runs.poll} polls`;
}

/** Asks the mock hub to push each product its push plan pushes (ideal.ts), at its time. */
function schedulePushes(releases: readonly LiveRelease[], options: LiveDayOptions, hubUrl: string) {
  const counts = { pushed: 0, pushedLate: 0, pushesDropped: 0 };
  const timers: NodeJS.Timeout[] = [];
  for (const { product, releaseMs } of releases) {
    const push = pushPlan(product.id, options);
    if (!push.pushed) {
      counts.pushesDropped++;
      continue;
    }
    counts.pushed++;
    if (push.late) counts.pushedLate++;
    const at = releaseMs + (push.delayMinutes * MINUTE_MS) / options.speed;
    timers.push(
      setTimeout(
        () => {
          // A push that fails is a push CDSE lost: the poll finds the product.
          void fetch(`${hubUrl}/__mock/push`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ productId: product.id }),
            signal: AbortSignal.timeout(10_000),
          })
            .then((response) => response.arrayBuffer())
            .catch(() => undefined);
        },
        Math.max(0, at - Date.now()),
      ),
    );
  }
  return { counts, cancel: () => timers.forEach(clearTimeout) };
}

/** The push endpoint on 127.0.0.1: Basic credentials checked, the body recorded by `record`, 204. */
async function startPushEndpoint(
  record: (body: unknown) => Promise<void>,
): Promise<{ url: string; close(): Promise<void> }> {
  const expected = `Basic ${Buffer.from(`${PUSH_CREDENTIALS.username}:${PUSH_CREDENTIALS.password}`).toString("base64")}`;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
      record(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown).then(
        () => res.writeHead(204).end(),
        () => res.writeHead(502).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
