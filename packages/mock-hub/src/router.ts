import type { Catalogue } from "./catalogue";
import { handleCdse } from "./cdse";
import type { HubContext } from "./context";
import { handleDhus } from "./dhus";
import { FaultEngine, type FaultPlan } from "./faults";
import { json, type MockRequest, type MockResponse } from "./http";
import { Introspection } from "./stats";
import { handleSubscriptions } from "./subscriptions";
import { type Credentials, TokenStore } from "./tokens";

export interface HubContextOptions {
  catalogue: Catalogue;
  credentials?: Credentials;
  /** A second DHuS pair accepted on every DHuS route (IntHub2's download account). */
  downloadCredentials?: Credentials;
  faults?: FaultPlan;
  dhusPrefix?: string;
  /** CDSE `$value` redirects (301) to `/download/odata/v1/Products(<id>)/$value`, which serves it; default false. */
  redirectDownloads?: boolean;
  /** Clock in epoch ms (token expiry); default Date.now. */
  now?: () => number;
  accessTokenSeconds?: number;
  refreshTokenSeconds?: number;
  maxSessionsPerUser?: number;
  maxConcurrentDownloadsPerUser?: number;
  /** Hub-wide concurrent `$value` GET limit (every account, DHuS and CDSE), 429 beyond; default none. */
  maxDownloads?: number;
}

/** Builds the state every transport shares: catalogue, faults, counters and tokens. */
export function createHubContext(options: HubContextOptions): HubContext {
  const now = options.now ?? Date.now;
  const dhusPrefix = options.dhusPrefix ?? "/dhus";
  if (!/^\/[\w-]+(\/[\w-]+)*$/.test(dhusPrefix))
    throw new RangeError(`dhusPrefix must look like /dhus, got ${dhusPrefix}`);
  const faults = new FaultEngine(options.faults ?? {}, options.catalogue.seed);
  return {
    catalogue: options.catalogue,
    faults,
    stats: new Introspection(faults, options.maxDownloads),
    tokens: new TokenStore({
      now,
      credentials: options.credentials,
      accessTokenSeconds: options.accessTokenSeconds,
      refreshTokenSeconds: options.refreshTokenSeconds,
      maxSessionsPerUser: options.maxSessionsPerUser,
      maxConcurrentDownloadsPerUser: options.maxConcurrentDownloadsPerUser,
    }),
    now,
    credentials: options.credentials,
    downloadCredentials: options.downloadCredentials,
    dhusPrefix,
    redirectDownloads: options.redirectDownloads ?? false,
  };
}

/** Answers one request: a hub route, an introspection route, or 404. */
export async function handleRequest(ctx: HubContext, req: MockRequest): Promise<MockResponse> {
  try {
    const subscriptions = handleSubscriptions(ctx, req);
    if (subscriptions !== undefined) return await subscriptions;
    if (req.path.startsWith("/__mock/")) return await mockRoute(ctx, req);
    const dhus = req.path.startsWith(`${ctx.dhusPrefix}/`) ? handleDhus(ctx, req) : undefined;
    const response = dhus ?? handleCdse(ctx, req);
    if (response !== undefined) return await response;
    ctx.stats.countRoute("notFound");
    return json(404, { detail: `no mock route for ${req.method} ${req.path}` });
  } catch (error) {
    return json(500, { detail: `mock hub error: ${(error as Error).message}` });
  }
}

async function mockRoute(ctx: HubContext, req: MockRequest): Promise<MockResponse> {
  switch (req.path) {
    case "/__mock/stats":
      ctx.stats.countRoute("mock.stats");
      return json(200, { ...ctx.stats.toJSON(), paging: ctx.faults.paging.counts });
    case "/__mock/catalogue":
      ctx.stats.countRoute("mock.catalogue");
      return json(200, {
        seed: ctx.catalogue.seed,
        // Sequential and yielding: large products' MD5s are computed once without freezing the server.
        products: await mapSequential(ctx.catalogue.products, async (p) => ({
          id: p.id,
          name: p.name,
          platform: p.platform,
          tileId: p.tileId,
          day: p.day,
          publishedAt: p.publishedAt,
          sizeBytes: p.sizeBytes,
          md5: await ctx.catalogue.expectedMd5Async(p.id, ctx.faults.archiveVariant(p.id)),
        })),
      });
    case "/__mock/faults":
      ctx.stats.countRoute("mock.faults");
      if (req.method !== "POST") return json(405, { detail: "POST a FaultPlan as JSON" });
      try {
        ctx.faults.setPlan(JSON.parse(req.body === "" ? "{}" : req.body) as FaultPlan);
      } catch (error) {
        return json(400, { detail: (error as Error).message });
      }
      return json(200, { ok: true });
    case "/__mock/reset":
      if (req.method !== "POST") return json(405, { detail: "POST to reset the counters" });
      ctx.stats.reset();
      return json(200, { ok: true });
    default:
      return json(404, { detail: `no mock route ${req.path}` });
  }
}

async function mapSequential<T, R>(items: readonly T[], map: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await map(item));
  return out;
}
