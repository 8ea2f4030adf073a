import { afterEach, describe, expect, it } from "vitest";
import { FAULT_KINDS, FaultEngine, type MockHub } from "../src/index";
import {
  cdseToken,
  dhusChecksumUrl,
  dhusGet,
  dhusSearchUrl,
  dhusValueUrl,
  firstId,
  md5,
  smallCatalogue,
  startHub,
} from "./helpers/hub";

let hub: MockHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

/** Reads a whole body; resolves to the bytes, or to the error when the connection broke. */
async function readBody(response: Response): Promise<Buffer | Error> {
  try {
    return Buffer.from(await response.arrayBuffer());
  } catch (error) {
    return error as Error;
  }
}

describe("granule faults", () => {
  it("answers 5xx the given number of times, then serves", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "http5xx", times: 2, status: 502 } } });
    expect((await dhusGet(dhusValueUrl(hub, id))).status).toBe(502);
    expect((await dhusGet(dhusValueUrl(hub, id))).status).toBe(502);
    const ok = await dhusGet(dhusValueUrl(hub, id));
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    expect(hub.stats.faultsInjected(id)).toEqual({ http5xx: 2 });
  });

  it("answers 429 with Retry-After", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "throttle429", retryAfterSeconds: 7 } } });
    const throttled = await dhusGet(dhusValueUrl(hub, id));
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("7");
  });

  it("hits the checksum route when asked to", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "http5xx", on: "checksum" } } });
    expect((await dhusGet(dhusChecksumUrl(hub, id))).status).toBe(503);
    expect((await dhusGet(dhusChecksumUrl(hub, id))).status).toBe(200);
    expect((await dhusGet(dhusValueUrl(hub, id), {}, "HEAD")).status).toBe(200);
  });

  it("resets the connection after N body bytes, then serves the rest by Range", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "resetAfterBytes", bytes: 70_000 } } });
    const broken = await dhusGet(dhusValueUrl(hub, id));
    expect(broken.status).toBe(200);
    expect(await readBody(broken)).toBeInstanceOf(Error);
    expect(hub.stats.granule(id).bytesServed).toBe(70_000);
    const rest = await dhusGet(dhusValueUrl(hub, id), { range: "bytes=70000-" });
    const tail = await readBody(rest);
    expect(Buffer.concat([hub.catalogue.bytes(id, 0, 70_000), tail as Buffer]).length).toBe(
      hub.catalogue.get(id)!.sizeBytes,
    );
    expect(md5(Buffer.concat([hub.catalogue.bytes(id, 0, 70_000), tail as Buffer]))).toBe(
      hub.catalogue.expectedMd5(id),
    );
  });

  it("trickles the body at the given rate", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ sizeBytes: 40_000 }) });
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "trickle", bytesPerSecond: 100_000 } } });
    const began = Date.now();
    const bytes = await readBody(await dhusGet(dhusValueUrl(hub, id)));
    expect(Date.now() - began).toBeGreaterThanOrEqual(300);
    expect(md5(bytes as Buffer)).toBe(hub.catalogue.expectedMd5(id));
  });

  it("corrupts one byte the first time only with corruptOnce", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "corruptOnce" } } });
    const first = (await readBody(await dhusGet(dhusValueUrl(hub, id)))) as Buffer;
    const second = (await readBody(await dhusGet(dhusValueUrl(hub, id)))) as Buffer;
    expect(first.length).toBe(second.length);
    expect(md5(first)).not.toBe(hub.catalogue.expectedMd5(id));
    expect(md5(second)).toBe(hub.catalogue.expectedMd5(id));
    expect(hub.stats.faultsInjected(id)).toEqual({ corruptOnce: 1 });
  });

  it("corrupts every time with corruptAlways, also in a Range covering the byte", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const size = hub.catalogue.get(id)!.sizeBytes;
    hub.setFaults({ granules: { [id]: { kind: "corruptAlways" } } });
    for (let i = 0; i < 2; i++) {
      expect(md5((await readBody(await dhusGet(dhusValueUrl(hub, id)))) as Buffer)).not.toBe(
        hub.catalogue.expectedMd5(id),
      );
    }
    const half = Math.floor(size / 2);
    const tail = (await readBody(
      await dhusGet(dhusValueUrl(hub, id), { range: `bytes=${half}-` }),
    )) as Buffer;
    expect(tail[0]).toBe(hub.catalogue.bytes(id, half, half + 1)[0]! ^ 0xff);
  });

  it("answers gone on the checksum, $value and HEAD, every time", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "gone", status: 410 } } });
    for (let i = 0; i < 2; i++) {
      expect((await dhusGet(dhusChecksumUrl(hub, id))).status).toBe(410);
      expect((await dhusGet(dhusValueUrl(hub, id))).status).toBe(410);
    }
    expect((await dhusGet(dhusValueUrl(hub, id), {}, "HEAD")).status).toBe(410);
    expect((await fetch(`${hub.url}/odata/v1/Products(${id})`)).status).toBe(410);
  });

  it("withholds the DHuS checksum for the first K requests with checksumLate", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "checksumLate", times: 2 } } });
    const values: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const body = (await (await dhusGet(dhusChecksumUrl(hub, id))).json()) as {
        d: { Checksum: { Value: string | null } };
      };
      values.push(body.d.Checksum.Value);
    }
    expect(values).toEqual([null, null, hub.catalogue.expectedMd5(id).toUpperCase()]);
  });

  it("leaves the MD5 out of CDSE answers while checksumLate holds", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "checksumLate", times: 1 } } });
    const listing = (await (await fetch(`${hub.url}/odata/v1/Products?$top=1`)).json()) as {
      value: { Id: string; Checksum: { Algorithm: string }[] }[];
    };
    expect(listing.value[0]!.Id).toBe(id);
    expect(listing.value[0]!.Checksum.map((c) => c.Algorithm)).toEqual(["BLAKE3"]);
    const algorithms = async () =>
      (
        (await (await fetch(`${hub!.url}/odata/v1/Products(${id})`)).json()) as {
          Checksum: { Algorithm: string }[];
        }
      ).Checksum.map((c) => c.Algorithm);
    expect(await algorithms()).toEqual(["BLAKE3"]);
    expect(await algorithms()).toEqual(["MD5", "BLAKE3"]);
  });

  it("refuses auth on the zipper with authRefused even with a valid token", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const { access_token } = await cdseToken(hub);
    hub.setFaults({ granules: { [id]: { kind: "authRefused" } } });
    const response = await fetch(`${hub.url}/odata/v1/Products(${id})/$value`, {
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(response.status).toBe(401);
    expect(hub.stats.faultsInjected(id)).toEqual({ authRefused: 1 });
  });
});

describe("search faults", () => {
  it("breaks a DHuS search page's JSON once", async () => {
    hub = await startHub({ faults: { search: [{ kind: "malformedPage" }] } });
    const broken = await dhusGet(dhusSearchUrl(hub));
    expect(broken.status).toBe(200);
    await expect(broken.json()).rejects.toThrow();
    await expect((await dhusGet(dhusSearchUrl(hub))).json()).resolves.toHaveProperty("feed");
  });

  it("throttles and fails CDSE listing pages at a given offset only", async () => {
    hub = await startHub({
      faults: {
        search: [
          { kind: "throttle429", offset: 2 },
          { kind: "http5xx", offset: 2 },
        ],
      },
    });
    expect((await fetch(`${hub.url}/odata/v1/Products?$top=2`)).status).toBe(200);
    const throttled = await fetch(`${hub.url}/odata/v1/Products?$top=2&$skip=2`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("1");
    expect((await fetch(`${hub.url}/odata/v1/Products?$top=2&$skip=2`)).status).toBe(503);
    expect((await fetch(`${hub.url}/odata/v1/Products?$top=2&$skip=2`)).status).toBe(200);
  });

  it("refuses auth on a search with authRefused", async () => {
    hub = await startHub({ faults: { search: [{ kind: "authRefused" }] } });
    expect((await dhusGet(dhusSearchUrl(hub))).status).toBe(401);
    expect(hub.stats.faultsInjected()).toEqual({ authRefused: 1 });
  });
});

describe("seeded fault rates", () => {
  it("hits the same granules for the same seed and about the given fraction", () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `granule-${i}`);
    const hit = (seed: number) => {
      const engine = new FaultEngine({ seed, rates: { http5xx: 0.1 } });
      return ids.filter((id) => engine.statusFault(id, "value") !== undefined);
    };
    expect(hit(1)).toEqual(hit(1));
    expect(hit(1)).not.toEqual(hit(2));
    expect(hit(1).length).toBeGreaterThan(150);
    expect(hit(1).length).toBeLessThan(250);
  });

  it("rejects an unknown kind or a rate outside [0, 1]", () => {
    expect(() => new FaultEngine({ rates: { http5xx: 2 } })).toThrow(/rates.http5xx/);
    expect(() => new FaultEngine({ rates: { nope: 0.1 } as never })).toThrow(/unknown fault kind/);
    expect(FAULT_KINDS).toHaveLength(22);
  });
});
