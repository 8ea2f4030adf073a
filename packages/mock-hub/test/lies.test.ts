import { get, type IncomingHttpHeaders } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { FaultEngine, type MockHub } from "../src/index";
import {
  basic,
  cdseToken,
  DAY,
  dhusGet,
  dhusSearchUrl,
  dhusValueUrl,
  firstId,
  smallCatalogue,
  startHub,
} from "./helpers/hub";

let hub: MockHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Bytes received before the body ended, broke or was cut by `maxBytes`. */
  bytes: number;
  /** How the body finished: "end", "error" (connection reset mid-body) or "cut" (we hung up). */
  finished: "end" | "error" | "cut";
}

/** A GET with node:http, so a lying Content-Length or a reset shows as it is, not as a fetch error. */
function rawGet(
  url: string,
  headers: Record<string, string> = {},
  maxBytes = 64 * 1024 * 1024,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = get(
      url,
      { headers: { authorization: basic(), ...headers }, agent: false },
      (response) => {
        let bytes = 0;
        let settled = false;
        const done = (finished: RawAnswer["finished"]) => {
          if (settled) return;
          settled = true;
          resolve({ status: response.statusCode ?? 0, headers: response.headers, bytes, finished });
        };
        response.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes >= maxBytes) {
            done("cut");
            request.destroy();
          }
        });
        response.on("end", () => done("end"));
        response.on("error", () => done("error"));
        response.on("aborted", () => done("error"));
        response.on("close", () => done(response.complete ? "end" : "error"));
      },
    );
    request.on("error", reject);
  });
}

describe("framing lies on $value", () => {
  it("lengthLonger: claims more bytes than it sends, then resets the connection", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const size = hub.catalogue.get(id)!.sizeBytes;
    hub.setFaults({ granules: { [id]: { kind: "lengthLonger", bytes: 500 } } });

    const answer = await rawGet(dhusValueUrl(hub, id));

    expect(answer.headers["content-length"]).toBe(String(size + 500));
    expect(answer.bytes).toBe(size);
    expect(answer.finished).toBe("error");
    expect(hub.stats.faultsInjected(id)).toEqual({ lengthLonger: 1 });
  });

  it("lengthShorter: a body and Content-Length short of the product", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const size = hub.catalogue.get(id)!.sizeBytes;
    hub.setFaults({ granules: { [id]: { kind: "lengthShorter", bytes: 700, times: 2 } } });

    const first = await rawGet(dhusValueUrl(hub, id));
    const second = await rawGet(dhusValueUrl(hub, id));
    const honest = await rawGet(dhusValueUrl(hub, id));

    expect(first.headers["content-length"]).toBe(String(size - 700));
    expect(first).toMatchObject({ bytes: size - 700, finished: "end" });
    expect(second.headers["content-length"]).toBe(String(size - 700));
    expect(honest).toMatchObject({ bytes: size, finished: "end" });
    expect(honest.headers["content-length"]).toBe(String(size));
  });

  it("trailingGarbage: no Content-Length and garbage after the product", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const size = hub.catalogue.get(id)!.sizeBytes;
    hub.setFaults({ granules: { [id]: { kind: "trailingGarbage", bytes: 4096 } } });

    const answer = await rawGet(dhusValueUrl(hub, id));

    expect(answer.headers["content-length"]).toBeUndefined();
    expect(answer).toMatchObject({ bytes: size + 4096, finished: "end" });
  });

  it("rangeEarly: answers a Range from N with a 206 from N − bytes, as its Content-Range says", async () => {
    hub = await startHub();
    const id = firstId(hub);
    const size = hub.catalogue.get(id)!.sizeBytes;
    hub.setFaults({ granules: { [id]: { kind: "rangeEarly", bytes: 1000 } } });

    const answer = await rawGet(dhusValueUrl(hub, id), { range: "bytes=5000-" });
    const next = await rawGet(dhusValueUrl(hub, id), { range: "bytes=5000-" });

    expect(answer.status).toBe(206);
    expect(answer.headers["content-range"]).toBe(`bytes 4000-${size - 1}/${size}`);
    expect(answer.bytes).toBe(size - 4000);
    expect(next.headers["content-range"]).toBe(`bytes 5000-${size - 1}/${size}`);
  });

  it("trickle at N bytes/s paces the body", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "trickle", bytesPerSecond: 20_000 } } });

    const started = performance.now();
    const answer = await rawGet(dhusValueUrl(hub, id), {}, 10_000);

    expect(answer.finished).toBe("cut");
    expect(performance.now() - started).toBeGreaterThan(300);
  });
});

describe("search lies", () => {
  it("endlessBody: a 200 JSON search body that never ends", async () => {
    hub = await startHub();
    hub.setFaults({ search: [{ kind: "endlessBody" }] });

    const answer = await rawGet(dhusSearchUrl(hub), {}, 20 * 1024 * 1024);

    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toContain("application/json");
    expect(answer.finished).toBe("cut");
    expect(answer.bytes).toBeGreaterThanOrEqual(20 * 1024 * 1024);
  });

  it("ignoreOffset: DHuS serves the first page for every start and echoes the start it ignored", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 10 }) });
    hub.setFaults({ search: [{ kind: "ignoreOffset", times: Number.POSITIVE_INFINITY }] });

    const pages = [];
    for (const start of [0, 3, 6]) {
      const response = await dhusGet(dhusSearchUrl(hub, { rows: 3, start }));
      pages.push(
        (await response.json()) as { feed: { entry: { id: string }[]; "opensearch:startIndex": string } },
      );
    }

    const ids = pages.map((page) => page.feed.entry.map((entry) => entry.id));
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    expect(pages.map((page) => page.feed["opensearch:startIndex"])).toEqual(["0", "3", "6"]);
  });

  it("ignoreOffset: CDSE serves the first page for every $skip", async () => {
    hub = await startHub({ catalogue: smallCatalogue({ granulesPerDay: 10 }) });
    hub.setFaults({ search: [{ kind: "ignoreOffset", times: Number.POSITIVE_INFINITY }] });
    const list = async (skip: number) => {
      const filter = `Collection/Name eq 'SENTINEL-2' and PublicationDate ge ${DAY}T00:00:00.000Z`;
      const url = `${hub!.url}/odata/v1/Products?$filter=${encodeURIComponent(filter)}&$orderby=PublicationDate%20asc&$top=3&$skip=${skip}&$count=true`;
      return (await (await fetch(url)).json()) as { value: { Id: string }[]; "@odata.nextLink"?: string };
    };

    const first = await list(0);
    const later = await list(6);

    expect(later.value.map((p) => p.Id)).toEqual(first.value.map((p) => p.Id));
    expect(later["@odata.nextLink"]).toContain("%24skip=9");
  });
});

describe("offline products", () => {
  it("says Online: false in the listing and the single product until its requests are spent", async () => {
    hub = await startHub();
    const id = firstId(hub);
    hub.setFaults({ granules: { [id]: { kind: "offline", times: 1 } } });
    const product = async () =>
      (await (await fetch(`${hub!.url}/odata/v1/Products(${id})`)).json()) as { Online: boolean };
    const listed = async () => {
      const filter = `Collection/Name eq 'SENTINEL-2' and PublicationDate ge ${DAY}T00:00:00.000Z`;
      const url = `${hub!.url}/odata/v1/Products?$filter=${encodeURIComponent(filter)}&$top=100`;
      const body = (await (await fetch(url)).json()) as { value: { Id: string; Online: boolean }[] };
      return body.value.find((p) => p.Id === id)?.Online;
    };

    expect(await listed()).toBe(false);
    expect((await product()).Online).toBe(false);
    expect((await product()).Online).toBe(true);
    expect(await listed()).toBe(true);
    expect(hub.stats.faultsInjected(id)).toEqual({ offline: 1 });
    await cdseToken(hub);
  });
});

describe("fault plan validation", () => {
  it("accepts the new kinds where they apply and refuses them elsewhere", () => {
    expect(
      () => new FaultEngine({ search: [{ kind: "endlessBody" }, { kind: "ignoreOffset" }] }),
    ).not.toThrow();
    expect(() => new FaultEngine({ granules: { x: { kind: "rangeEarly" } } })).not.toThrow();
    expect(() => new FaultEngine({ granules: { x: { kind: "endlessBody" as never } } })).toThrow(RangeError);
    expect(() => new FaultEngine({ search: [{ kind: "lengthLonger" as never }] })).toThrow(RangeError);
  });
});
