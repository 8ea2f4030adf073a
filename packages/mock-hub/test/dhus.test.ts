import { afterEach, describe, expect, it } from "vitest";
import type { MockHub } from "../src/index";
import {
  basic,
  DAY,
  dhusChecksumUrl,
  dhusGet,
  dhusSearchUrl,
  dhusValueUrl,
  firstId,
  md5,
  smallCatalogue,
  startHub,
  USER,
} from "./helpers/hub";

interface Feed {
  "opensearch:totalResults": string;
  entry?: Record<string, unknown> | Record<string, unknown>[];
  link: { rel: string; href: string }[];
}

let hub: MockHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function feedOf(url: string): Promise<Feed> {
  const response = await dhusGet(url);
  expect(response.status).toBe(200);
  return ((await response.json()) as { feed: Feed }).feed;
}

describe("DHuS search", () => {
  it("leaves out entry when nothing matches and sends totalResults as a string", async () => {
    hub = await startHub();
    const feed = await feedOf(dhusSearchUrl(hub, { day: "2026-01-01" }));
    expect(feed["opensearch:totalResults"]).toBe("0");
    expect("entry" in feed).toBe(false);
  });

  it("sends a single result as a lone entry object", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 1 }) });
    const feed = await feedOf(dhusSearchUrl(hub));
    expect(feed["opensearch:totalResults"]).toBe("1");
    expect(Array.isArray(feed.entry)).toBe(false);
    expect((feed.entry as { id: string }).id).toBe(firstId(hub));
  });

  it("sends many results as an array with the real typed groups", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 3, sizeBytes: 693_056_307 }) });
    const feed = await feedOf(dhusSearchUrl(hub));
    const entries = feed.entry as Record<string, unknown>[];
    expect(entries).toHaveLength(3);
    const entry = entries[0] as {
      id: string;
      title: string;
      summary: string;
      ondemand: string;
      link: { href: string; rel?: string }[];
      str: { name: string; content: string }[];
      date: { name: string; content: string }[];
      int: { name: string; content: string }[];
      double: { name: string; content: string };
    };
    const product = hub.catalogue.get(entry.id)!;
    const str = Object.fromEntries(entry.str.map((s) => [s.name, s.content]));
    const date = Object.fromEntries(entry.date.map((d) => [d.name, d.content]));
    expect(entry.title).toBe(product.name);
    expect(entry.ondemand).toBe("false");
    expect(entry.summary).toContain("Size: 660.95 MB");
    expect(str.filename).toBe(`${product.name}.SAFE`);
    expect(str.size).toBe("660.95 MB");
    expect(str.producttype).toBe("S2MSI1C");
    expect(str.tileid).toBe(product.tileId);
    expect(str.platformserialidentifier).toBe(`Sentinel-2${product.platform.slice(2)}`);
    expect(date.ingestiondate).toBe(product.publishedAt);
    expect(date.beginposition).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(date.endposition).toBe(product.sensingEnd);
    expect(Array.isArray(entry.int)).toBe(true);
    expect(Array.isArray(entry.double)).toBe(false);
    expect(entry.double.name).toBe("cloudcoverpercentage");
    expect(entry.link[0]!.href).toBe(dhusValueUrl(hub, entry.id));
  });

  it("pages with rows and start, newest first by default", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 7 }) });
    const ids: string[] = [];
    for (let start = 0; start < 7; start += 3) {
      const feed = await feedOf(dhusSearchUrl(hub, { rows: 3, start }));
      expect(feed["opensearch:totalResults"]).toBe("7");
      const entries = feed.entry === undefined ? [] : Array.isArray(feed.entry) ? feed.entry : [feed.entry];
      ids.push(...entries.map((e) => e.id as string));
      expect(feed.link.some((l) => l.rel === "next")).toBe(start + 3 < 7);
    }
    expect(ids).toEqual(hub.catalogue.products.map((p) => p.id).reverse());
  });

  it("orders oldest first with orderby ingestiondate asc", async () => {
    hub = await startHub();
    const feed = await feedOf(dhusSearchUrl(hub, { order: "ingestiondate asc" }));
    expect((feed.entry as { id: string }[]).map((e) => e.id)).toEqual(
      hub.catalogue.products.map((p) => p.id),
    );
  });

  it("filters by platformserialidentifier", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 12, platforms: ["S2A", "S2B"] }) });
    const feed = await feedOf(dhusSearchUrl(hub, { platform: "Sentinel-2B" }));
    const expected = hub.catalogue.products.filter((p) => p.platform === "S2B");
    expect(feed["opensearch:totalResults"]).toBe(String(expected.length));
    expect(expected.length).toBeGreaterThan(0);
  });

  it("answers 401 without the right Basic credentials", async () => {
    hub = await startHub();
    expect((await fetch(dhusSearchUrl(hub))).status).toBe(401);
    const wrong = await fetch(dhusSearchUrl(hub), {
      headers: { authorization: basic({ ...USER, password: "x" }) },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic/);
  });

  it("accepts the IntHub2 download credentials as a second pair", async () => {
    const intHub = { username: "bob", password: "pw" };
    hub = await startHub({ downloadCredentials: intHub });
    const response = await fetch(dhusValueUrl(hub, firstId(hub)), {
      method: "HEAD",
      headers: { authorization: basic(intHub) },
    });
    expect(response.status).toBe(200);
  });

  it("rejects more than 100 rows and formats other than json", async () => {
    hub = await startHub();
    expect((await dhusGet(dhusSearchUrl(hub, { rows: 101 }))).status).toBe(400);
    expect((await dhusGet(dhusSearchUrl(hub).replace("format=json", "format=xml"))).status).toBe(400);
  });
});

describe("DHuS checksum", () => {
  it("answers the uppercase MD5 of the product", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const response = await dhusGet(dhusChecksumUrl(hub, id));
    const body = (await response.json()) as { d: { Checksum: { Algorithm: string; Value: string } } };
    expect(body.d.Checksum.Algorithm).toBe("MD5");
    expect(body.d.Checksum.Value).toBe(hub.catalogue.expectedMd5(id).toUpperCase());
    expect(hub.stats.granule(id).checksumGets).toBe(1);
  });

  it("answers 404 for an unknown product", async () => {
    hub = await startHub();
    expect((await dhusGet(dhusChecksumUrl(hub, "00000000-0000-4000-8000-000000000000"))).status).toBe(404);
  });
});

describe("DHuS $value", () => {
  it("serves the whole product whose MD5 is the catalogue's", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const response = await dhusGet(dhusValueUrl(hub, id));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/zip");
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(Number(response.headers.get("content-length"))).toBe(hub.catalogue.get(id)!.sizeBytes);
    expect(md5(bytes)).toBe(hub.catalogue.expectedMd5(id));
    expect(hub.stats.granule(id)).toMatchObject({ valueGets: 1, rangeGets: 0, bytesServed: bytes.length });
  });

  it("answers a Range request with 206 and Content-Range", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const size = hub.catalogue.get(id)!.sizeBytes;
    const response = await dhusGet(dhusValueUrl(hub, id), { range: "bytes=1000-" });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes 1000-${size - 1}/${size}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.equals(hub.catalogue.bytes(id, 1000))).toBe(true);
    expect(hub.stats.granule(id).rangeGets).toBe(1);
  });

  it("answers a closed Range and refuses one past the end with 416", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const size = hub.catalogue.get(id)!.sizeBytes;
    const closed = await dhusGet(dhusValueUrl(hub, id), { range: "bytes=10-19" });
    expect(Buffer.from(await closed.arrayBuffer()).equals(hub.catalogue.bytes(id, 10, 20))).toBe(true);
    const past = await dhusGet(dhusValueUrl(hub, id), { range: `bytes=${size}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${size}`);
  });

  it("answers HEAD with the length and no body", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const response = await dhusGet(dhusValueUrl(hub, id), {}, "HEAD");
    expect(response.status).toBe(200);
    expect(Number(response.headers.get("content-length"))).toBe(hub.catalogue.get(id)!.sizeBytes);
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(hub.stats.granule(id)).toMatchObject({ headRequests: 1, valueGets: 0, bytesServed: 0 });
  });

  it("serves the same bytes under another DHuS prefix", async () => {
    hub = await startHub({ dhusPrefix: "/inthub2" });
    const id = firstId(hub);
    const response = await dhusGet(`${hub.url}/inthub2/odata/v1/Products('${id}')/$value`);
    expect(md5(new Uint8Array(await response.arrayBuffer()))).toBe(hub.catalogue.expectedMd5(id));
    expect(DAY).toBe(hub.catalogue.get(id)!.day);
  });
});
