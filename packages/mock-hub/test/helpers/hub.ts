import { createHash } from "node:crypto";
import {
  type Catalogue,
  type CatalogueOptions,
  createCatalogue,
  type MockHub,
  type MockHubOptions,
  startMockHub,
} from "../../src/index";

export const DAY = "2026-11-24";
export const USER = { username: "alice", password: "s3cret" };

/** A small catalogue: one day, a handful of products of a few hundred KiB. */
export function smallCatalogue(overrides: Partial<CatalogueOptions> = {}): Catalogue {
  return createCatalogue({
    seed: "test",
    days: [DAY],
    granulesPerDay: 5,
    sizeBytes: { min: 100_000, max: 300_000 },
    ...overrides,
  });
}

/** Starts a hub on a free loopback port; the caller closes it. */
export function startHub(overrides: Partial<MockHubOptions> = {}): Promise<MockHub> {
  return startMockHub({ catalogue: smallCatalogue(), credentials: USER, ...overrides });
}

export function basic(credentials: { username: string; password: string } = USER): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}

export function md5(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** The DHuS search URL the downloader builds for a day (design.md §3). */
export function dhusSearchUrl(
  hub: MockHub,
  params: { day?: string; rows?: number; start?: number; order?: string; platform?: string } = {},
): string {
  const day = params.day ?? DAY;
  const platform = params.platform === undefined ? "" : ` AND (platformserialidentifier:${params.platform})`;
  const q = `(platformname:Sentinel-2) AND (processinglevel:Level-1C) AND (ingestiondate:[${day}T00:00:00.000Z TO ${day}T23:59:59.999Z])${platform}`;
  const query = new URLSearchParams({
    q,
    rows: String(params.rows ?? 100),
    start: String(params.start ?? 0),
    orderby: params.order ?? "ingestiondate desc",
    format: "json",
  });
  return `${hub.url}/dhus/search?${query}`;
}

export function dhusValueUrl(hub: MockHub, id: string): string {
  return `${hub.url}/dhus/odata/v1/Products('${id}')/$value`;
}

export function dhusChecksumUrl(hub: MockHub, id: string): string {
  return `${hub.url}/dhus/odata/v1/Products('${id}')/?$format=json&$select=Checksum`;
}

/** Gets a DHuS URL with the test account. */
export function dhusGet(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Response> {
  return fetch(url, { method, headers: { authorization: basic(), ...headers } });
}

export function firstId(hub: MockHub): string {
  const product = hub.catalogue.products[0];
  if (product === undefined) throw new Error("empty catalogue");
  return product.id;
}

/** Gets a CDSE access token with the password grant. */
export async function cdseToken(
  hub: MockHub,
  credentials = USER,
): Promise<{ access_token: string; refresh_token: string }> {
  const response = await tokenRequest(hub, {
    grant_type: "password",
    client_id: "cdse-public",
    ...credentials,
  });
  if (response.status !== 200) throw new Error(`token: ${response.status} ${await response.text()}`);
  return (await response.json()) as { access_token: string; refresh_token: string };
}

export function tokenRequest(hub: MockHub, form: Record<string, string>): Promise<Response> {
  return fetch(`${hub.url}/auth/realms/CDSE/protocol/openid-connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
}
