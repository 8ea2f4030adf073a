import { afterEach, describe, expect, it } from "vitest";
import type { MockHub } from "../src/index";
import { dhusChecksumUrl, dhusGet, dhusSearchUrl, dhusValueUrl, firstId, startHub } from "./helpers/hub";

let hub: MockHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

describe("introspection", () => {
  it("counts requests per route and per granule, and resets", async () => {
    hub = await startHub();
    const id = firstId(hub);
    await (await dhusGet(dhusSearchUrl(hub))).json();
    await (await dhusGet(dhusChecksumUrl(hub, id))).json();
    await (await dhusGet(dhusValueUrl(hub, id))).arrayBuffer();
    await (await dhusGet(dhusValueUrl(hub, id), { range: "bytes=100-" })).arrayBuffer();
    expect(hub.stats.route("dhus.search")).toBe(1);
    expect(hub.stats.route("dhus.checksum")).toBe(1);
    expect(hub.stats.route("dhus.value")).toBe(2);
    const size = hub.catalogue.get(id)!.sizeBytes;
    expect(hub.stats.granule(id)).toEqual({
      valueGets: 2,
      rangeGets: 1,
      headRequests: 0,
      checksumGets: 1,
      bytesServed: size + size - 100,
    });
    hub.stats.reset();
    expect(hub.stats.route("dhus.value")).toBe(0);
    expect(hub.stats.granule(id).valueGets).toBe(0);
  });

  it("serves the stats and the catalogue's ids, names and MD5s as JSON", async () => {
    hub = await startHub();
    const id = firstId(hub);
    await (await dhusGet(dhusValueUrl(hub, id), {}, "HEAD")).text();
    const stats = (await (await fetch(`${hub.url}/__mock/stats`)).json()) as {
      routes: Record<string, number>;
      granules: Record<string, { headRequests: number }>;
    };
    expect(stats.routes["dhus.value"]).toBe(1);
    expect(stats.granules[id]!.headRequests).toBe(1);
    const catalogue = (await (await fetch(`${hub.url}/__mock/catalogue`)).json()) as {
      products: { id: string; name: string; md5: string }[];
    };
    expect(catalogue.products).toHaveLength(hub.catalogue.products.length);
    expect(catalogue.products[0]).toMatchObject({
      id,
      name: hub.catalogue.get(id)!.name,
      md5: hub.catalogue.expectedMd5(id),
    });
  });

  it("takes a fault plan and a reset over HTTP for an external process", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const plan = { granules: { [id]: { kind: "gone" } } };
    expect(
      (await fetch(`${hub.url}/__mock/faults`, { method: "POST", body: JSON.stringify(plan) })).status,
    ).toBe(200);
    expect((await dhusGet(dhusValueUrl(hub, id))).status).toBe(404);
    expect(hub.stats.faultsInjected(id)).toEqual({ gone: 1 });
    expect((await fetch(`${hub.url}/__mock/reset`, { method: "POST" })).status).toBe(200);
    expect(hub.stats.faultsInjected(id)).toEqual({});
    const bad = await fetch(`${hub.url}/__mock/faults`, { method: "POST", body: '{"rates":{"http5xx":7}}' });
    expect(bad.status).toBe(400);
  });

  it("answers 404 on a path it does not imitate", async () => {
    hub = await startHub();
    expect((await fetch(`${hub.url}/nope`)).status).toBe(404);
    expect(hub.stats.route("notFound")).toBe(1);
  });
});
