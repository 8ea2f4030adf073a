/**
 * The world bench/lambda.ts runs handlers in: the mock hub (CDSE API) over one day's catalogue, the
 * embedded stores (dynalite, s3rver) in this process, and containers (bench/lambda-sandbox.ts) with the
 * deployed function's environment pointed at them.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import { startEmbeddedStores } from "@hls-s2/local";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";
import { FUNCTION_SIZES, type SizedFunction } from "../stacks/sizes";
import type { ChildFigures } from "./lambda-child";
import { bundleHandler, type LambdaCgroup, startContainer } from "./lambda-sandbox";

export const DAY = "2026-11-24";
export const CREDENTIALS = { username: "bench", password: "bench" };
const TILES_FILE = fileURLToPath(new URL("../config/hls-tiles.txt", import.meta.url));
const HANDLER_FILES: Record<SizedFunction, string> = {
  GenerateQueries: "generate-queries",
  FetchPage: "fetch-page",
  WriteManifest: "write-manifest",
  Download: "download",
  Summarize: "summarize",
  ReceivePush: "receive-push",
  StartPushedDownloads: "start-pushed-downloads",
  ReportAge: "report-age",
};

export type World = Awaited<ReturnType<typeof startWorld>>;

/** The mock hub (CDSE API) over one day's catalogue and the embedded stores (dynalite, s3rver). */
export async function startWorld(
  catalogueOptions: Parameters<typeof createCatalogue>[0],
  bandwidth?: number,
) {
  const catalogue = createCatalogue(catalogueOptions);
  const hub = await startMockHub({
    catalogue,
    credentials: CREDENTIALS,
    host: "127.0.0.1",
    port: 0,
    ...(bandwidth !== undefined && { bandwidthBytesPerSecond: bandwidth }),
  });
  // s3rver's files in memory where the machine has a tmpfs: on a shared disk, the writeback of one run's
  // gigabytes slowed the next run's parts (and so its body) by a third.
  const storeDir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "hls-s2-lambda-s3-"));
  const stores = await startEmbeddedStores({ dataDir: storeDir, dynamo: "dynalite" });
  const bundles = await mkdtemp(join(tmpdir(), "hls-s2-lambda-"));
  /** The deployed function's environment (stacks/environment.ts), pointed here; secrets are passed at init. */
  const environment = (name: SizedFunction, extra: Record<string, string> = {}): Record<string, string> => ({
    FUNCTION_NAME: name,
    POWERTOOLS_SERVICE_NAME: "hls-s2-downloader",
    POWERTOOLS_METRICS_NAMESPACE: "HLS-S2",
    AWS_REGION: "us-east-1",
    STAGE: "bench",
    TABLE_NAME: stores.tableName,
    BUCKET_NAME: stores.bucketName,
    WORK_BUCKET_NAME: stores.workBucketName,
    HUB_KIND: "cdse",
    HUB_URL: hub.url,
    DOWNLOAD_HUB_URL: hub.url,
    CDSE_TOKEN_URL: `${hub.url}/auth/realms/CDSE/protocol/openid-connect/token`,
    HUB_SECRET_ID: "bench",
    PUSH_SECRET_ID: "bench",
    STATE_MACHINE_ARN: "arn:aws:states:us-east-1:000000000000:stateMachine:bench",
    PLATFORMS: (catalogueOptions.platforms ?? ["S2A", "S2B"]).join(","),
    // Production's allow-list: HLS's 18,952 tiles, held by FetchPage and ReceivePush.
    TILE_ALLOW_LIST_FILE: TILES_FILE,
    ...extra,
  });
  /** Starts one container of `name` (in `cgroup` when given) and points it at this world. */
  const container = async (name: SizedFunction, env: Record<string, string>, cgroup?: LambdaCgroup) => {
    const bundle = await bundleHandler(HANDLER_FILES[name], bundles);
    const child = startContainer(bundle, env, cgroup);
    await child.call({
      op: "init",
      dynamoEndpoint: stores.dynamoEndpoint,
      s3Endpoint: stores.s3Endpoint,
      region: "us-east-1",
      credentials: CREDENTIALS,
      stubSfn: name === "StartPushedDownloads",
    });
    const invoke = <T>(event: unknown) =>
      child.call<{ result: T; seconds: number } & ChildFigures>({
        op: "invoke",
        event,
        timeoutSeconds: FUNCTION_SIZES[name].timeoutSeconds,
      });
    return { child, invoke };
  };
  const store = new GranuleStore(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
  const close = async () => {
    await hub.close();
    await stores.close();
    await rm(bundles, { recursive: true, force: true });
    await rm(storeDir, { recursive: true, force: true });
  };
  return { catalogue, hub, stores, store, environment, container, close };
}
