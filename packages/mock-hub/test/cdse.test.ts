import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { MockHub } from "../src/index";
import {
  basic,
  cdseToken,
  DAY,
  firstId,
  md5,
  smallCatalogue,
  startHub,
  tokenRequest,
  USER,
} from "./helpers/hub";

interface ODataPage {
  "@odata.count"?: number;
  "@odata.nextLink"?: string;
  value: {
    Id: string;
    Name: string;
    ContentLength: number;
    PublicationDate: string;
    Checksum: { Algorithm: string; Value: string }[];
    Attributes?: { Name: string; Value: unknown }[];
  }[];
}

let hub: MockHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

const L1C =
  "Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'productType' and att/OData.CSC.StringAttribute/Value eq 'S2MSI1C')";

function productsUrl(h: MockHub, filter: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    $filter: filter,
    $orderby: "PublicationDate asc",
    $expand: "Attributes",
    ...params,
  });
  return `${h.url}/odata/v1/Products?${query}`;
}

function dayFilter(extra = ""): string {
  return `Collection/Name eq 'SENTINEL-2' and PublicationDate ge ${DAY}T00:00:00.000Z and PublicationDate lt ${DAY}T23:59:59.999Z and ${L1C}${extra}`;
}

async function page(url: string): Promise<ODataPage> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return (await response.json()) as ODataPage;
}

describe("CDSE OData catalogue", () => {
  it("lists a day's products with their MD5, BLAKE3 and attributes", async () => {
    hub = await startHub();
    const body = await page(productsUrl(hub, dayFilter(), { $count: "true" }));
    expect(body["@odata.count"]).toBe(5);
    const first = body.value[0]!;
    const product = hub.catalogue.get(first.Id)!;
    expect(first.Name).toBe(`${product.name}.SAFE`);
    expect(first.ContentLength).toBe(product.sizeBytes);
    expect(first.Checksum.find((c) => c.Algorithm === "MD5")?.Value).toBe(
      hub.catalogue.expectedMd5(first.Id),
    );
    expect(first.Checksum.some((c) => c.Algorithm === "BLAKE3")).toBe(true);
    expect(first.Attributes?.find((a) => a.Name === "tileId")?.Value).toBe(product.tileId);
    expect(body.value.map((p) => p.PublicationDate)).toEqual(body.value.map((p) => p.PublicationDate).sort());
  });

  it("filters by platform attribute and by name prefix alike", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 12, platforms: ["S2A", "S2B"] }) });
    const expected = hub.catalogue.products.filter((p) => p.platform === "S2A").map((p) => p.id);
    const byAttribute = await page(
      productsUrl(
        hub,
        dayFilter(
          " and Attributes/OData.CSC.StringAttribute/any(att:att/Name eq 'platformSerialIdentifier' and att/OData.CSC.StringAttribute/Value eq 'A')",
        ),
      ),
    );
    const byName = await page(productsUrl(hub, dayFilter(" and startswith(Name,'S2A')")));
    expect(byAttribute.value.map((p) => p.Id)).toEqual(expected);
    expect(byName.value.map((p) => p.Id)).toEqual(expected);
  });

  it("returns nothing for another collection or product type", async () => {
    hub = await startHub();
    const other = await page(productsUrl(hub, "Collection/Name eq 'SENTINEL-1'"));
    const l2a = await page(productsUrl(hub, L1C.replace("S2MSI1C", "S2MSI2A")));
    expect(other.value).toEqual([]);
    expect(l2a.value).toEqual([]);
  });

  it("pages with $top and $skip and an absolute @odata.nextLink", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 7 }) });
    const ids: string[] = [];
    let url: string | undefined = productsUrl(hub, dayFilter(), { $top: "3" });
    let pages = 0;
    while (url !== undefined) {
      const body = await page(url);
      ids.push(...body.value.map((p) => p.Id));
      url = body["@odata.nextLink"];
      if (url !== undefined) expect(url.startsWith(`${hub.url}/odata/v1/Products?`)).toBe(true);
      pages++;
    }
    expect(pages).toBe(3);
    expect(ids).toEqual(hub.catalogue.products.map((p) => p.id));
  });

  it("refuses $skip beyond 10,000 and $top beyond 1,000 with CDSE's validation error", async () => {
    hub = await startHub();
    const skip = await fetch(productsUrl(hub, dayFilter(), { $skip: "10001" }));
    expect(skip.status).toBe(400);
    const body = (await skip.json()) as { detail: { loc: string[]; msg: string }[] };
    expect(body.detail[0]!.loc).toEqual(["query", "$skip"]);
    expect(body.detail[0]!.msg).toMatch(/less than or equal to 10000/);
    expect((await fetch(productsUrl(hub, dayFilter(), { $skip: "10000" }))).status).toBe(200);
    expect((await fetch(productsUrl(hub, dayFilter(), { $top: "1001" }))).status).toBe(400);
  });

  it("refuses a $filter clause it does not imitate", async () => {
    hub = await startHub();
    const response = await fetch(productsUrl(hub, "Foo eq 'bar'"));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/Foo eq 'bar'/);
  });

  it("answers a single product and 404 for an unknown one", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const response = await fetch(`${hub.url}/odata/v1/Products(${id})`);
    const body = (await response.json()) as ODataPage["value"][number];
    expect(body.Id).toBe(id);
    expect(body.Checksum.find((c) => c.Algorithm === "MD5")?.Value).toBe(hub.catalogue.expectedMd5(id));
    expect(hub.stats.granule(id).checksumGets).toBe(1);
    expect((await fetch(`${hub.url}/odata/v1/Products(00000000-0000-4000-8000-000000000000)`)).status).toBe(
      404,
    );
  });
});

describe("CDSE resto search", () => {
  it("lists features with a download link and a next link", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 4 }) });
    const query = new URLSearchParams({
      productType: "S2MSI1C",
      publishedAfter: `${DAY}T00:00:00Z`,
      publishedBefore: `${DAY}T23:59:59Z`,
      maxRecords: "3",
    });
    const first = (await (
      await fetch(`${hub.url}/resto/api/collections/Sentinel2/search.json?${query}`)
    ).json()) as {
      properties: { totalResults: number; links: { rel: string; href: string }[] };
      features: { id: string; properties: { title: string; services: { download: { url: string } } } }[];
    };
    expect(first.properties.totalResults).toBe(4);
    expect(first.features).toHaveLength(3);
    const product = hub.catalogue.get(first.features[0]!.id)!;
    expect(first.features[0]!.properties.title).toBe(`${product.name}.SAFE`);
    expect(first.features[0]!.properties.services.download.url).toBe(
      `${hub.url}/odata/v1/Products(${product.id})/$value`,
    );
    const next = first.properties.links.find((l) => l.rel === "next")!;
    const second = (await (await fetch(next.href)).json()) as { features: { id: string }[] };
    expect(second.features.map((f) => f.id)).toEqual([hub.catalogue.products[3]!.id]);
  });
});

describe("CDSE identity and zipper", () => {
  it("grants 10-minute access tokens and refreshes them", async () => {
    hub = await startHub();
    const response = await tokenRequest(hub, { grant_type: "password", client_id: "cdse-public", ...USER });
    const token = (await response.json()) as Record<string, unknown>;
    expect(token).toMatchObject({ expires_in: 600, refresh_expires_in: 3600, token_type: "Bearer" });
    const refreshed = await tokenRequest(hub, {
      grant_type: "refresh_token",
      client_id: "cdse-public",
      refresh_token: String(token.refresh_token),
    });
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as { access_token: string }).access_token).not.toBe(token.access_token);
    expect(hub.tokens.liveSessions(USER.username)).toBe(1);
  });

  it("refuses wrong credentials, another client and an unknown refresh token", async () => {
    hub = await startHub();
    const wrong = await tokenRequest(hub, {
      grant_type: "password",
      client_id: "cdse-public",
      username: USER.username,
      password: "x",
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: "invalid_grant" });
    const client = await tokenRequest(hub, { grant_type: "password", client_id: "other", ...USER });
    expect(client.status).toBe(401);
    const refresh = await tokenRequest(hub, {
      grant_type: "refresh_token",
      client_id: "cdse-public",
      refresh_token: "nope",
    });
    expect(refresh.status).toBe(400);
  });

  it("downloads with a bearer token and refuses without one", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const url = `${hub.url}/odata/v1/Products(${id})/$value`;
    expect((await fetch(url)).status).toBe(401);
    const { access_token } = await cdseToken(hub);
    const response = await fetch(url, { headers: { authorization: `Bearer ${access_token}` } });
    expect(response.status).toBe(200);
    expect(md5(new Uint8Array(await response.arrayBuffer()))).toBe(hub.catalogue.expectedMd5(id));
    const ranged = await fetch(url, {
      headers: { authorization: `Bearer ${access_token}`, range: "bytes=5-" },
    });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(hub.catalogue.bytes(id, 5))).toBe(true);
    const head = await fetch(url, { method: "HEAD", headers: { authorization: `Bearer ${access_token}` } });
    expect(Number(head.headers.get("content-length"))).toBe(hub.catalogue.get(id)!.sizeBytes);
  });

  it("redirects downloads to the download path when asked, where the token still counts", async () => {
    hub = await startHub({ redirectDownloads: true });
    const id = firstId(hub);
    const { access_token } = await cdseToken(hub);
    const headers = { authorization: `Bearer ${access_token}` };
    const redirect = await fetch(`${hub.url}/odata/v1/Products(${id})/$value`, {
      headers,
      redirect: "manual",
    });
    expect(redirect.status).toBe(301);
    const location = redirect.headers.get("location")!;
    expect(location).toBe(`${hub.url}/download/odata/v1/Products(${id})/$value`);
    expect((await fetch(location)).status).toBe(401);
    const response = await fetch(location, { headers });
    expect(md5(new Uint8Array(await response.arrayBuffer()))).toBe(hub.catalogue.expectedMd5(id));
  });

  it("expires access tokens after 10 minutes and sessions after an hour, on the injected clock", async () => {
    let now = Date.parse(`${DAY}T12:00:00Z`);
    hub = await startHub({ now: () => now });
    const id = firstId(hub);
    const url = `${hub.url}/odata/v1/Products(${id})/$value`;
    const token = await cdseToken(hub);
    now += 601_000;
    const expired = await fetch(url, {
      method: "HEAD",
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(expired.status).toBe(401);
    const refresh = {
      grant_type: "refresh_token",
      client_id: "cdse-public",
      refresh_token: token.refresh_token,
    };
    expect((await tokenRequest(hub, refresh)).status).toBe(200);
    now += 3_601_000;
    expect((await tokenRequest(hub, refresh)).status).toBe(400);
    expect(hub.tokens.liveSessions(USER.username)).toBe(0);
  });

  it("refuses the 101st live session of a user", async () => {
    hub = await startHub();
    const form = new URLSearchParams({ grant_type: "password", client_id: "cdse-public", ...USER });
    for (let i = 0; i < 99; i++) expect(hub.tokens.grant(form).status).toBe(200);
    await cdseToken(hub);
    const refused = await tokenRequest(hub, { grant_type: "password", client_id: "cdse-public", ...USER });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      error: "sessionLimitExceeded",
      error_description: expect.stringMatching(/Maximum number of sessions/),
    });
  });

  it("denies new sessions for a while, then accepts again", async () => {
    let now = Date.parse("2026-11-24T12:00:00Z");
    hub = await startHub({ now: () => now });
    hub.tokens.denySessionsFor(60_000);
    const form = { grant_type: "password", client_id: "cdse-public", ...USER };
    expect((await tokenRequest(hub, form)).status).toBe(403);
    now += 60_001;
    expect((await tokenRequest(hub, form)).status).toBe(200);
    expect(hub.tokens.sessionRefusals).toBe(1);
  });

  it("answers 429 beyond the hub-wide download limit on both flavours and counts the peak", async () => {
    hub = await startHub({ maxDownloads: 1, bandwidthBytesPerSecond: 200_000 });
    const id = firstId(hub);
    const { access_token } = await cdseToken(hub);
    const running = await fetch(`${hub.url}/odata/v1/Products(${id})/$value`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(running.status).toBe(200);
    const dhus = await fetch(`${hub.url}/dhus/odata/v1/Products('${id}')/$value`, {
      headers: { authorization: basic() },
    });
    expect(dhus.status).toBe(429);
    expect(await dhus.json()).toEqual({ detail: "Max session number 1 exceeded" });
    await running.arrayBuffer();
    await sleep(20);
    expect(hub.stats.downloads.snapshot()).toMatchObject({ limit: 1, inFlight: 0, peak: 1, refused: 1 });
  });

  it("answers 429 past the concurrent download quota and frees the slot when a body ends", async () => {
    hub = await startHub({ maxConcurrentDownloadsPerUser: 2, bandwidthBytesPerSecond: 200_000 });
    const id = firstId(hub);
    const url = `${hub.url}/odata/v1/Products(${id})/$value`;
    const { access_token } = await cdseToken(hub);
    const headers = { authorization: `Bearer ${access_token}` };
    const running = [await fetch(url, { headers }), await fetch(url, { headers })];
    const third = await fetch(url, { headers });
    expect(third.status).toBe(429);
    expect(await third.json()).toEqual({ detail: "Max session number 2 exceeded" });
    await Promise.all(running.map((r) => r.arrayBuffer()));
    await sleep(20);
    const fourth = await fetch(url, { headers, method: "GET" });
    expect(fourth.status).toBe(200);
    await fourth.body?.cancel();
  });
});
