import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { buffer } from "node:stream/consumers";
import { rejection } from "@hls-s2/testing/rejection";
import { afterEach, describe, expect, it } from "vitest";
import { CdseHub, type CdseHubOptions } from "../../../../src/adapters/hub/cdse/hub";
import { CdseTokenManager } from "../../../../src/adapters/hub/cdse/token";
import type { Platform } from "../../../../src/domain/granule";
import {
  type RecordedRequest,
  sendBytes,
  sendJson,
  startTestServer,
  type TestServer,
} from "../../../helpers/http-server";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const USERNAME = "hls-operator@example.org";
const PASSWORD = "Tr0ub4dor&3-cdse";

function compact(iso: string): string {
  return iso.replace(/[-:]/g, "").slice(0, 15);
}

function md5Hex(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/** CDSE's product id for the i-th product of a catalogue: a UUID carrying the index. */
function productId(i: number): string {
  return `c0ffee00-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

function indexOf(id: string): number {
  return Number.parseInt(id.slice(-12), 16);
}

/** A product as the OData catalogue lists it with `$expand=Attributes`. */
function aProduct(i: number, platform: Platform, publishedMs: number): Record<string, unknown> {
  const published = new Date(publishedMs).toISOString();
  const sensed = new Date(publishedMs - 2 * HOUR_MS).toISOString();
  return {
    "@odata.mediaContentType": "application/octet-stream",
    Id: productId(i),
    Name: `${platform}_MSIL1C_${compact(sensed)}_N0510_R022_T32TQM_${compact(published)}.SAFE`,
    ContentType: "application/octet-stream",
    ContentLength: 600_000_000 + i,
    PublicationDate: published,
    Online: true,
    Checksum: [
      { Value: md5Hex(productId(i)).toUpperCase(), Algorithm: "MD5", ChecksumDate: published },
      { Value: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", Algorithm: "BLAKE3" },
    ],
    ContentDate: { Start: sensed, End: sensed },
    Attributes: [
      {
        "@odata.type": "#OData.CSC.StringAttribute",
        Name: "productType",
        Value: "S2MSI1C",
        ValueType: "String",
      },
      { "@odata.type": "#OData.CSC.StringAttribute", Name: "tileId", Value: "32TQM", ValueType: "String" },
      {
        "@odata.type": "#OData.CSC.StringAttribute",
        Name: "platformSerialIdentifier",
        Value: platform.slice(2),
        ValueType: "String",
      },
    ],
  };
}

interface CatalogueSpec {
  day: string;
  platform: Platform;
  /** Products of that platform published in the day. */
  count: number;
  /** Epoch ms the i-th product was published at; ascending. Default: spread evenly over the day. */
  publishedAt?: (i: number) => number;
  /** Replaces the listed products of a page (to inject bad entries). */
  page?: (products: Record<string, unknown>[]) => unknown[];
}

interface FakeCdse {
  server: TestServer;
  searches: () => RecordedRequest[];
  downloads: () => RecordedRequest[];
  grants: string[];
  /** Revokes every access token issued so far, as a CDSE logout or session purge does. */
  revokeTokens: () => void;
  bytesOf: (id: string) => Buffer;
}

interface FakeOptions {
  catalogue?: CatalogueSpec;
  /** The `Products(<id>)` entity, default the product with its MD5. */
  entity?: (id: string, call: number) => { status: number; body: unknown };
  /** Overrides the zipper's answer to an authorized `$value`; return false to fall through. */
  zipper?: (req: IncomingMessage, res: ServerResponse, id: string) => boolean;
}

/** The first index whose publication is at or after `ms` (publication times ascend). */
function firstAtOrAfter(ms: number, spec: CatalogueSpec, publishedAt: (i: number) => number): number {
  let lo = 0;
  let hi = spec.count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (publishedAt(mid) < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * CDSE on loopback: OData catalogue (products generated on demand, so a day of 12,000 costs nothing
 * until listed), Keycloak token endpoint and zipper `$value` that checks the bearer token. Like CDSE it
 * refuses `$skip` above 10,000 and `$top` above 1000.
 */
async function startFakeCdse(options: FakeOptions = {}): Promise<FakeCdse> {
  const grants: string[] = [];
  const liveTokens = new Set<string>();
  const liveRefreshTokens = new Set<string>();
  const entityCalls = new Map<string, number>();
  const bytesOf = (id: string) => Buffer.from(`zip bytes of ${id} `.repeat(8));
  const spec = options.catalogue;
  const dayStart = spec ? Date.parse(`${spec.day}T00:00:00.000Z`) : 0;
  const publishedAt =
    spec?.publishedAt ?? ((i: number) => dayStart + Math.floor((i * DAY_MS) / (spec?.count ?? 1)));

  const server = await startTestServer(async (req, res, seen) => {
    if (seen.method === "POST" && seen.path === "/token") {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const grant = form.get("grant_type") ?? "";
      grants.push(grant);
      const ok =
        grant === "password"
          ? form.get("username") === USERNAME && form.get("password") === PASSWORD
          : liveRefreshTokens.has(form.get("refresh_token") ?? "");
      if (!ok) return sendJson(res, { error: "invalid_grant" }, grant === "password" ? 401 : 400);
      const n = grants.length;
      liveTokens.add(`access-${n}`);
      liveRefreshTokens.add(`refresh-${n}`);
      return sendJson(res, {
        access_token: `access-${n}`,
        expires_in: 600,
        refresh_token: `refresh-${n}`,
        refresh_expires_in: 3600,
        token_type: "Bearer",
      });
    }
    const value = /^\/odata\/v1\/Products\(([^)]+)\)\/\$value$/.exec(seen.path);
    if (value?.[1] !== undefined) {
      const bearer = /^Bearer (.+)$/.exec(seen.headers.authorization ?? "")?.[1];
      if (bearer === undefined || !liveTokens.has(bearer))
        return sendJson(res, { detail: "Expired signature!" }, 401);
      if (options.zipper?.(req, res, value[1])) return;
      return sendBytes(req, res, bytesOf(value[1]));
    }
    const entity = /^\/odata\/v1\/Products\(([^)]+)\)$/.exec(seen.path);
    if (entity?.[1] !== undefined) {
      const id = entity[1];
      const call = (entityCalls.get(id) ?? 0) + 1;
      entityCalls.set(id, call);
      const answer = options.entity?.(id, call) ?? {
        status: 200,
        body: { "@odata.context": "$metadata#Products/$entity", ...aProduct(indexOf(id), "S2B", dayStart) },
      };
      return sendJson(res, answer.body, answer.status);
    }
    if (seen.path === "/odata/v1/Products" && spec !== undefined) {
      const q = seen.query;
      const skip = Number(q.get("$skip") ?? 0);
      const top = Number(q.get("$top") ?? 20);
      if (skip > 10_000) return sendJson(res, { detail: "Skip value exceeds 10000" }, 400);
      if (top > 1000) return sendJson(res, { detail: "Top value exceeds 1000" }, 400);
      if (q.get("$orderby") !== "PublicationDate asc")
        return sendJson(res, { detail: "needs $orderby" }, 400);
      const filter = q.get("$filter") ?? "";
      const from = Date.parse(/PublicationDate ge (\S+)/.exec(filter)?.[1] ?? "");
      const to = Date.parse(/PublicationDate lt (\S+)/.exec(filter)?.[1] ?? "");
      const serial =
        /Name eq 'platformSerialIdentifier' and att\/OData.CSC.StringAttribute\/Value eq '(\w)'/.exec(
          filter,
        )?.[1];
      const matches = serial === spec.platform.slice(2) && !Number.isNaN(from) && !Number.isNaN(to);
      const lo = matches ? firstAtOrAfter(from, spec, publishedAt) : 0;
      const hi = matches ? firstAtOrAfter(to, spec, publishedAt) : 0;
      const count = hi - lo;
      const products: Record<string, unknown>[] = [];
      for (let i = lo + skip; i < Math.min(hi, lo + skip + top); i++) {
        products.push(aProduct(i, spec.platform, publishedAt(i)));
      }
      const next = new URLSearchParams(q);
      next.set("$skip", String(skip + top));
      return sendJson(res, {
        "@odata.context": "$metadata#Products(Attributes())",
        "@odata.count": count,
        value: spec.page ? spec.page(products) : products,
        ...(skip + top < count ? { "@odata.nextLink": `${server.url}/odata/v1/Products?${next}` } : {}),
      });
    }
    sendJson(res, { detail: "Not found" }, 404);
  });
  servers.push(server);
  return {
    server,
    searches: () => server.requests.filter((r) => r.path === "/odata/v1/Products"),
    downloads: () => server.requests.filter((r) => r.path.endsWith("/$value")),
    grants,
    revokeTokens: () => liveTokens.clear(),
    bytesOf,
  };
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function hubFor(fake: FakeCdse, overrides: Partial<CdseHubOptions> = {}): CdseHub {
  return new CdseHub({
    catalogueUrl: fake.server.url,
    downloadUrl: fake.server.url,
    tokens: new CdseTokenManager({
      tokenUrl: `${fake.server.url}/token`,
      credentials: { username: USERNAME, password: PASSWORD },
      retries: 0,
    }),
    filterRules: { maxAcquisitionAgeDays: 30 },
    http: { retries: 0 },
    ...overrides,
  });
}

async function pageThrough(hub: CdseHub, query: { day: string; platform: Platform }) {
  const ids: string[] = [];
  const offsets: number[] = [];
  let offset: number | undefined = 0;
  let totalResults = 0;
  while (offset !== undefined) {
    offsets.push(offset);
    const page = await hub.listSearchPage(query, offset);
    ids.push(...page.granules.map((g) => g.granuleId));
    totalResults = page.totalResults;
    offset = page.nextOffset;
  }
  return { ids, offsets, totalResults };
}

describe("CdseHub.listSearchPage", () => {
  it("asks the OData catalogue for the day's L1C products of one platform, ordered, with a count", async () => {
    const fake = await startFakeCdse({ catalogue: { day: "2024-03-05", platform: "S2B", count: 3 } });
    const hub = hubFor(fake, { pageSize: 500 });

    await hub.listSearchPage({ day: "2024-03-05", platform: "S2B" }, 0);

    const [search] = fake.searches();
    expect(search?.query.get("$filter")).toBe(
      "Collection/Name eq 'SENTINEL-2' and PublicationDate ge 2024-03-05T00:00:00.000Z and " +
        "PublicationDate lt 2024-03-06T00:00:00.000Z and " +
        "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and att/OData.CSC.StringAttribute/Value eq 'S2MSI1C') and " +
        "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'platformSerialIdentifier' and att/OData.CSC.StringAttribute/Value eq 'B')",
    );
    expect(Object.fromEntries([...search!.query].filter(([k]) => k !== "$filter"))).toEqual({
      $orderby: "PublicationDate asc",
      $top: "500",
      $skip: "0",
      $count: "true",
      $expand: "Attributes",
    });
    expect(search?.url).not.toContain(" ");
    expect(search?.headers.authorization).toBeUndefined();
  });

  it("searches only the publication window a query names", async () => {
    const fake = await startFakeCdse({ catalogue: { day: "2024-03-05", platform: "S2B", count: 48 } });
    const hub = hubFor(fake);

    const page = await hub.listSearchPage(
      { day: "2024-03-05", platform: "S2B", from: "2024-03-05T06:00:00Z", to: "2024-03-05T07:00:00Z" },
      0,
    );

    expect(fake.searches()[0]?.query.get("$filter")).toContain(
      "PublicationDate ge 2024-03-05T06:00:00.000Z and PublicationDate lt 2024-03-05T07:00:00.000Z",
    );
    expect(page.granules.map((g) => g.granuleId)).toEqual([productId(12), productId(13)]);
  });

  it("maps a listed product to a granule with its tile, platform, times, size and lowercase MD5", async () => {
    const fake = await startFakeCdse({ catalogue: { day: "2024-03-05", platform: "S2A", count: 1 } });
    const hub = hubFor(fake);

    const page = await hub.listSearchPage({ day: "2024-03-05", platform: "S2A" }, 0);

    expect(page).toMatchObject({ totalResults: 1, entriesOnPage: 1, rejected: [] });
    expect(page.nextOffset).toBeUndefined();
    expect(page.granules).toEqual([
      {
        granuleId: productId(0),
        name: "S2A_MSIL1C_20240304T220000_N0510_R022_T32TQM_20240305T000000",
        tileId: "32TQM",
        platform: "S2A",
        sensingStart: "2024-03-04T22:00:00.000Z",
        sensingEnd: "2024-03-04T22:00:00.000Z",
        publishedAt: "2024-03-05T00:00:00.000Z",
        sizeBytes: 600_000_000,
        md5: md5Hex(productId(0)),
      },
    ]);
  });

  it("pages with offsets while the catalogue announces a next link, and stops when it does not", async () => {
    const fake = await startFakeCdse({ catalogue: { day: "2024-03-06", platform: "S2B", count: 2500 } });
    const hub = hubFor(fake);

    const { ids, offsets, totalResults } = await pageThrough(hub, { day: "2024-03-06", platform: "S2B" });

    expect(offsets).toEqual([0, 1000, 2000]);
    expect(totalResults).toBe(2500);
    expect(ids).toEqual(Array.from({ length: 2500 }, (_, i) => productId(i)));
    expect(fake.searches().map((s) => s.query.get("$skip"))).toEqual(["0", "1000", "2000"]);
  });

  it("pages past CDSE's 10,000 $skip cap by splitting the day into hour windows", async () => {
    const fake = await startFakeCdse({ catalogue: { day: "2024-03-07", platform: "S2B", count: 12_000 } });
    const hub = hubFor(fake);

    const { ids, totalResults } = await pageThrough(hub, { day: "2024-03-07", platform: "S2B" });

    expect(totalResults).toBe(12_000);
    expect(ids).toEqual(Array.from({ length: 12_000 }, (_, i) => productId(i)));
    expect(Math.max(...fake.searches().map((s) => Number(s.query.get("$skip"))))).toBeLessThanOrEqual(10_000);
    // One count of the day and one per hour, once: the plan is reused by every later page.
    expect(fake.searches().filter((s) => s.query.get("$top") === "0")).toHaveLength(25);
  });

  it("halves an hour that alone holds more than 10,000 products until each window fits", async () => {
    const burst = Date.parse("2024-03-08T12:00:00.000Z");
    const fake = await startFakeCdse({
      catalogue: {
        day: "2024-03-08",
        platform: "S2C",
        count: 10_500,
        publishedAt: (i) => burst + Math.floor((i * HOUR_MS) / 10_500),
      },
    });
    const hub = hubFor(fake);
    const query = { day: "2024-03-08", platform: "S2C" as const };

    const windows = await hub.planWindows(query);
    const page = await hub.listSearchPage(query, 10_200);

    expect(windows.filter((w) => w.count > 0).map(({ from, to, count }) => ({ from, to, count }))).toEqual([
      { from: "2024-03-08T12:00:00.000Z", to: "2024-03-08T12:30:00.000Z", count: 5250 },
      { from: "2024-03-08T12:30:00.000Z", to: "2024-03-08T13:00:00.000Z", count: 5250 },
    ]);
    expect(windows.reduce((sum, w) => sum + w.count, 0)).toBe(10_500);
    expect(page.totalResults).toBe(10_500);
    expect(page.granules[0]?.granuleId).toBe(productId(10_200));
    expect(page.entriesOnPage).toBe(300);
    expect(page.nextOffset).toBeUndefined();
  });

  it("rejects entries that fail validation or the filters, with reasons, and keeps the rest", async () => {
    const fake = await startFakeCdse({
      catalogue: {
        day: "2024-03-09",
        platform: "S2B",
        count: 5,
        page: ([good, noSize, unsafe, otherTile, oldScene]) => [
          good,
          { ...noSize, ContentLength: undefined },
          { ...unsafe, Name: "../../etc/passwd" },
          {
            ...otherTile,
            Attributes: [
              { Name: "tileId", Value: "33UUP" },
              { Name: "platformSerialIdentifier", Value: "B" },
            ],
          },
          {
            ...oldScene,
            ContentDate: { Start: "2023-01-01T00:00:00.000Z", End: "2023-01-01T00:00:00.000Z" },
          },
          "not an object",
        ],
      },
    });
    const hub = hubFor(fake, { filterRules: { maxAcquisitionAgeDays: 30, tiles: new Set(["32TQM"]) } });

    const page = await hub.listSearchPage({ day: "2024-03-09", platform: "S2B" }, 0);

    expect(page.granules.map((g) => g.granuleId)).toEqual([productId(0)]);
    expect(page.entriesOnPage).toBe(6);
    expect(page.rejected).toEqual([
      {
        id: productId(1),
        name: expect.any(String),
        reason: expect.stringContaining("ContentLength"),
        filter: "invalid",
      },
      {
        id: productId(2),
        name: "../../etc/passwd",
        reason: expect.stringContaining(".."),
        filter: "unsafeName",
      },
      {
        id: productId(3),
        name: expect.any(String),
        reason: expect.stringContaining("tile 33UUP"),
        filter: "tile",
      },
      {
        id: productId(4),
        name: expect.any(String),
        reason: expect.stringContaining("more than 30 days"),
        filter: "age",
      },
      { id: "(entry 5)", reason: expect.stringContaining("invalid entry"), filter: "invalid" },
    ]);
  });

  it("throws InvalidHubDataError on an envelope without @odata.count", async () => {
    const server = await startTestServer((_req, res) => sendJson(res, { value: [] }));
    servers.push(server);
    const hub = new CdseHub({
      catalogueUrl: server.url,
      downloadUrl: server.url,
      credentials: { username: USERNAME, password: PASSWORD },
      filterRules: { maxAcquisitionAgeDays: 30 },
      http: { retries: 0 },
    });

    const error = await rejection(hub.listSearchPage({ day: "2024-03-10", platform: "S2B" }, 0));
    expect(error).toMatchObject({
      name: "InvalidHubDataError",
      message: expect.stringContaining("@odata.count"),
    });
  });
});

describe("CdseHub.getChecksum", () => {
  it("returns the MD5 of Checksum[] in lowercase, whatever other algorithms are listed", async () => {
    const fake = await startFakeCdse();
    const hub = hubFor(fake);

    expect(await hub.getChecksum(productId(7))).toBe(md5Hex(productId(7)));
  });

  it("asks the catalogue again on every call instead of reusing a first answer", async () => {
    const fake = await startFakeCdse({
      entity: (_id, call) => ({
        status: 200,
        body: { Checksum: [{ Algorithm: "MD5", Value: call === 1 ? "A".repeat(32) : "B".repeat(32) }] },
      }),
    });
    const hub = hubFor(fake);

    expect(await hub.getChecksum(productId(1))).toBe("a".repeat(32));
    expect(await hub.getChecksum(productId(1))).toBe("b".repeat(32));
  });

  it.each([
    ["no Checksum at all", {}],
    ["an empty Checksum list", { Checksum: [] }],
    ["only a BLAKE3 checksum", { Checksum: [{ Algorithm: "BLAKE3", Value: "ab".repeat(32) }] }],
    ["an empty checksum object", { Checksum: [{}] }],
  ])("throws the retryable ChecksumNotPublishedError for %s", async (_case, body) => {
    const fake = await startFakeCdse({ entity: () => ({ status: 200, body }) });
    const hub = hubFor(fake);

    const error = await rejection(hub.getChecksum(productId(2)));
    expect(error).toMatchObject({
      name: "ChecksumNotPublishedError",
      granuleId: productId(2),
      retryable: true,
    });
  });

  it("carries the BLAKE3 in the ChecksumNotPublishedError when it is the only checksum, lowercase", async () => {
    const listed = {
      Checksum: [
        { Algorithm: "BLAKE3", Value: "AB".repeat(32) },
        { Algorithm: "MD5", Value: "" },
      ],
    };
    const fake = await startFakeCdse({ entity: () => ({ status: 200, body: listed }) });

    const error = await rejection(hubFor(fake).getChecksum(productId(2)));

    expect(error).toMatchObject({ name: "ChecksumNotPublishedError", blake3: "ab".repeat(32) });
  });

  it("throws GranuleGoneError when the product was withdrawn", async () => {
    const fake = await startFakeCdse({ entity: () => ({ status: 404, body: { detail: "Not Found" } }) });
    const hub = hubFor(fake);

    await expect(hub.getChecksum(productId(3))).rejects.toMatchObject({
      name: "GranuleGoneError",
      granuleId: productId(3),
      status: 404,
    });
  });

  it("throws InvalidHubDataError for an MD5 that is not 32 hex characters", async () => {
    const fake = await startFakeCdse({
      entity: () => ({ status: 200, body: { Checksum: [{ Algorithm: "MD5", Value: "not-a-digest" }] } }),
    });
    const hub = hubFor(fake);

    await expect(hub.getChecksum(productId(4))).rejects.toMatchObject({ name: "InvalidHubDataError" });
  });

  it("refuses an id that would change the request path, without asking the hub", async () => {
    const fake = await startFakeCdse();
    const hub = hubFor(fake);

    await expect(hub.getChecksum("x)/../../admin(")).rejects.toMatchObject({ name: "InvalidInputError" });
    expect(fake.server.requests).toHaveLength(0);
  });
});

describe("CdseHub.openDownload", () => {
  it("streams $value from the zipper with the bearer token, resuming from an offset by Range", async () => {
    const fake = await startFakeCdse();
    const hub = hubFor(fake);

    const whole = await hub.openDownload(productId(5));
    const rest = await hub.openDownload(productId(5), { offset: 10 });

    expect(await buffer(whole.body)).toEqual(fake.bytesOf(productId(5)));
    expect(rest.offset).toBe(10);
    expect(await buffer(rest.body)).toEqual(fake.bytesOf(productId(5)).subarray(10));
    expect(fake.downloads().map((d) => [d.headers.authorization, d.headers.range])).toEqual([
      ["Bearer access-1", undefined],
      ["Bearer access-1", "bytes=10-"],
    ]);
  });

  it("serves 100 downloads through one manager with a single password grant", async () => {
    const fake = await startFakeCdse();
    const hub = hubFor(fake);

    const bodies = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => buffer((await hub.openDownload(productId(i))).body)),
    );

    expect(bodies.every((body, i) => body.equals(fake.bytesOf(productId(i))))).toBe(true);
    expect(fake.grants).toEqual(["password"]);
    expect(new Set(fake.downloads().map((d) => d.headers.authorization))).toEqual(
      new Set(["Bearer access-1"]),
    );
  });

  it("renews a revoked token with the refresh grant once and retries the download after a 401", async () => {
    const fake = await startFakeCdse();
    const hub = hubFor(fake);
    await buffer((await hub.openDownload(productId(6))).body);
    fake.revokeTokens();

    const opened = await hub.openDownload(productId(6));

    expect(await buffer(opened.body)).toEqual(fake.bytesOf(productId(6)));
    expect(fake.grants).toEqual(["password", "refresh_token"]);
    expect(fake.downloads().map((d) => d.headers.authorization)).toEqual([
      "Bearer access-1",
      "Bearer access-1",
      "Bearer access-2",
    ]);
  });

  it("refreshes the shared token with the refresh grant when a download starts near its expiry", async () => {
    const fake = await startFakeCdse();
    let now = Date.parse("2024-03-05T12:00:00.000Z");
    const hub = hubFor(fake, {
      tokens: new CdseTokenManager({
        tokenUrl: `${fake.server.url}/token`,
        credentials: { username: USERNAME, password: PASSWORD },
        now: () => now,
        retries: 0,
      }),
    });

    await buffer((await hub.openDownload(productId(13))).body);
    now += 9 * 60_000; // 1 min before the 10-min token expires: inside the default 60 s margin
    await buffer((await hub.openDownload(productId(14))).body);

    expect(fake.grants).toEqual(["password", "refresh_token"]);
    expect(fake.downloads().map((d) => d.headers.authorization)).toEqual([
      "Bearer access-1",
      "Bearer access-2",
    ]);
  });

  it("throws HubAuthError without the token or password when a fresh token is refused too", async () => {
    const fake = await startFakeCdse({
      zipper: (_req, res) => {
        sendJson(res, { detail: "Unauthorized" }, 401);
        return true;
      },
    });
    const hub = hubFor(fake);

    const error = await rejection(hub.openDownload(productId(8)));

    expect(error).toMatchObject({ name: "HubAuthError", status: 401 });
    expect(fake.grants).toEqual(["password", "refresh_token"]);
    expect(fake.downloads()).toHaveLength(2);
    const text = JSON.stringify({
      ...error,
      text: error.message,
      stack: error.stack,
      cause: String(error.cause),
    });
    expect(text).not.toMatch(/access-\d|refresh-\d/);
    expect(text).not.toContain(PASSWORD);
  });

  it("throws HubAuthError without the password when the account is refused, after one password grant", async () => {
    const fake = await startFakeCdse();
    const hub = hubFor(fake, {
      tokens: new CdseTokenManager({
        tokenUrl: `${fake.server.url}/token`,
        credentials: { username: USERNAME, password: `${PASSWORD}-wrong` },
        retries: 0,
      }),
    });

    const error = await rejection(hub.openDownload(productId(9)));

    expect(error).toMatchObject({ name: "HubAuthError", status: 401 });
    expect(fake.grants).toEqual(["password"]);
    expect(fake.downloads()).toHaveLength(0);
    expect(`${error.message} ${error.stack}`).not.toContain(PASSWORD);
  });

  it("throws the retryable HubThrottledError with a default pause on CDSE's session-limit 429", async () => {
    const fake = await startFakeCdse({
      zipper: (_req, res) => {
        sendJson(res, { detail: "Max session number 4 exceeded" }, 429);
        return true;
      },
    });
    const hub = hubFor(fake);

    await expect(hub.openDownload(productId(10))).rejects.toMatchObject({
      name: "HubThrottledError",
      retryable: true,
      retryAfterSeconds: 30,
    });
  });

  it("reports the zipper's own Retry-After on a 429", async () => {
    const fake = await startFakeCdse({
      zipper: (_req, res) => {
        sendJson(res, { detail: "Max session number 4 exceeded" }, 429, { "retry-after": "7" });
        return true;
      },
    });
    const hub = hubFor(fake);

    await expect(hub.openDownload(productId(11))).rejects.toMatchObject({
      name: "HubThrottledError",
      retryAfterSeconds: 7,
    });
  });

  it("throws GranuleGoneError when the zipper no longer has the product", async () => {
    const fake = await startFakeCdse({
      zipper: (_req, res) => {
        sendJson(res, { detail: "Not found" }, 404);
        return true;
      },
    });
    const hub = hubFor(fake);

    await expect(hub.openDownload(productId(12))).rejects.toMatchObject({
      name: "GranuleGoneError",
      status: 404,
    });
  });
});

describe("new CdseHub", () => {
  it("rejects options it cannot work with, naming them", () => {
    const base = {
      catalogueUrl: "http://127.0.0.1:1",
      downloadUrl: "http://127.0.0.1:1",
      credentials: { username: USERNAME, password: PASSWORD },
      filterRules: { maxAcquisitionAgeDays: 30 },
    };
    expect(() => new CdseHub({ ...base, pageSize: 1001 })).toThrow(
      expect.objectContaining({ field: "pageSize" }),
    );
    expect(() => new CdseHub({ ...base, catalogueUrl: "catalogue" })).toThrow(
      expect.objectContaining({ field: "catalogueUrl" }),
    );
    expect(() => new CdseHub({ ...base, credentials: undefined })).toThrow(
      expect.objectContaining({ field: "tokens" }),
    );
  });
});

describe("CdseHub as CDSE answers today", () => {
  it("records an Online: false product and refuses its download with the retryable GranuleOfflineError", async () => {
    const day = "2024-03-11";
    const fake = await startFakeCdse({
      catalogue: {
        day,
        platform: "S2B",
        count: 1,
        page: (products) => products.map((p) => ({ ...p, Online: false })),
      },
      entity: (id) => ({
        status: 200,
        body: { ...aProduct(indexOf(id), "S2B", Date.parse(day)), Online: false },
      }),
    });
    const hub = hubFor(fake);

    const page = await hub.listSearchPage({ day, platform: "S2B" }, 0);
    const error = await rejection(hub.getChecksum(productId(0)));

    expect(page.granules.map((g) => g.granuleId)).toEqual([productId(0)]);
    expect(error).toMatchObject({ name: "GranuleOfflineError", retryable: true, granuleId: productId(0) });
  });

  it.each([
    ["Z with milliseconds", "2024-03-12T10:00:00.123Z", "2024-03-12T10:00:00.123Z"],
    ["Z with microseconds", "2024-03-12T10:00:00.123456Z", "2024-03-12T10:00:00.123Z"],
    ["+00:00 with milliseconds", "2024-03-12T10:00:00.123+00:00", "2024-03-12T10:00:00.123Z"],
    ["+00:00 with microseconds", "2024-03-12T10:00:00.123456+00:00", "2024-03-12T10:00:00.123Z"],
  ])("reads a PublicationDate in %s", async (_what, written, iso) => {
    const day = "2024-03-12";
    const fake = await startFakeCdse({
      catalogue: {
        day,
        platform: "S2B",
        count: 1,
        page: (products) => products.map((p) => ({ ...p, PublicationDate: written })),
      },
    });

    const page = await hubFor(fake).listSearchPage({ day, platform: "S2B" }, 0);

    expect(page.rejected).toEqual([]);
    expect(page.granules[0]?.publishedAt).toBe(iso);
  });

  it.each([
    ["a bare number", "1"],
    ["no zone", "2024-03-12T10:00:00.123"],
    ["a day the calendar lacks", "2024-02-30T10:00:00.000Z"],
    ["a date only", "2024-03-12"],
  ])("rejects a PublicationDate that is %s", async (_what, written) => {
    const day = "2024-03-12";
    const fake = await startFakeCdse({
      catalogue: {
        day,
        platform: "S2B",
        count: 1,
        page: (products) => products.map((p) => ({ ...p, PublicationDate: written })),
      },
    });

    const page = await hubFor(fake).listSearchPage({ day, platform: "S2B" }, 0);

    expect(page.granules).toEqual([]);
    expect(page.rejected[0]?.reason).toContain("RFC 3339");
  });

  it("searches and maps Sentinel-2D like the units already flying", async () => {
    const day = "2024-03-13";
    const fake = await startFakeCdse({ catalogue: { day, platform: "S2D", count: 3 } });

    const page = await hubFor(fake).listSearchPage({ day, platform: "S2D" }, 0);

    expect(page.granules.map((g) => g.platform)).toEqual(["S2D", "S2D", "S2D"]);
    expect(fake.searches()[0]?.query.get("$filter")).toContain("Value eq 'D'");
  });

  it("asks for 1,000 products a page by default", async () => {
    const day = "2024-03-14";
    const fake = await startFakeCdse({ catalogue: { day, platform: "S2B", count: 2 } });

    await hubFor(fake).listSearchPage({ day, platform: "S2B" }, 0);

    expect(fake.searches()[0]?.query.get("$top")).toBe("1000");
  });
});
