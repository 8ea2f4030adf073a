import { readFileSync } from "node:fs";
import { buffer } from "node:stream/consumers";
import { type Caught, rejection } from "@hls-s2/testing/rejection";
import { afterEach, describe, expect, it } from "vitest";
import { DhusHub, type DhusHubOptions } from "../../../src/adapters/hub/dhus";
import type { SearchQuery } from "../../../src/adapters/hub/hub";
import {
  ChecksumNotPublishedError,
  GranuleGoneError,
  HubAuthError,
  HubUnavailableError,
  InvalidHubDataError,
  InvalidInputError,
} from "../../../src/domain/errors";
import {
  sendBytes,
  sendJson,
  startTestServer,
  type TestHandler,
  type TestServer,
} from "../../helpers/http-server";

// biome-ignore lint/suspicious/noExplicitAny: tests edit DHuS-shaped JSON freely; the hub under test validates it.
type Json = Record<string, any>;

/** A fresh copy of a DHuS-shaped fixture, so each test edits its own data. */
function fixture(name: "search-page" | "search-single" | "search-empty" | "checksum"): Json {
  return JSON.parse(readFileSync(new URL(`./fixtures/dhus/${name}.json`, import.meta.url), "utf8"));
}

/** A search page holding `entries` (as DHuS sends them: absent, lone object or array) and a total. */
function page(entries: unknown, totalResults = "2"): Json {
  const body = fixture("search-empty");
  body.feed["opensearch:totalResults"] = totalResults;
  if (entries !== undefined) body.feed.entry = entries;
  return body;
}

/** The page as DHuS answers a request: `opensearch:startIndex` echoes the request's `start`. */
function answering(body: Json, seen: { query: URLSearchParams }): Json {
  body.feed["opensearch:startIndex"] = seen.query.get("start") ?? "0";
  return body;
}

/** The first entry of the array fixture (S2A, 32TQM, 660.95 MB), edited by `edit`. */
function entry(edit: (entry: Json) => void = () => {}): Json {
  const first = fixture("search-page").feed.entry[0];
  edit(first);
  return first;
}

function setStr(target: Json, name: string, content: string): void {
  const field = target.str.find((f: Json) => f.name === name);
  field.content = content;
}

const DAY = "2024-01-01";
const S2A: SearchQuery = { day: DAY, platform: "S2A" };
const FAST = { minTimeoutMs: 5, maxTimeoutMs: 20 };
const servers: TestServer[] = [];

async function serve(handler: TestHandler): Promise<TestServer> {
  const server = await startTestServer(handler);
  servers.push(server);
  return server;
}

function hubFor(server: TestServer, options: Partial<DhusHubOptions> = {}): DhusHub {
  return new DhusHub({
    url: server.url,
    credentials: { username: "searcher", password: "search-pass" },
    filterRules: { maxAcquisitionAgeDays: 30 },
    http: FAST,
    ...options,
  });
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("DhusHub.listSearchPage", () => {
  it("reads every entry of an array page into granules", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("search-page")));

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result).toMatchObject({ totalResults: 2, entriesOnPage: 2, rejected: [], nextOffset: undefined });
    expect(result.granules).toEqual([
      {
        granuleId: "6b1f54c5-8c1e-4a8e-9a6f-0b6a3a1d2f01",
        name: "S2A_MSIL1C_20240101T101421_N0510_R022_T32TQM_20240101T105935",
        tileId: "32TQM",
        platform: "S2A",
        sensingStart: "2024-01-01T10:14:21.024Z",
        sensingEnd: "2024-01-01T10:14:21.024Z",
        publishedAt: "2024-01-01T12:31:05.731Z",
        sizeBytes: Math.round(660.95 * 1024 ** 2),
      },
      expect.objectContaining({
        granuleId: "0c3e6f2a-51b7-4d0e-8f36-7c2d9e4b1a02",
        tileId: "35SNA",
        sizeBytes: Math.round(1.02 * 1024 ** 3),
      }),
    ]);
  });

  it("sends the DHuS query for the whole publication day, URL-encoded, with Basic auth", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("search-empty")));

    await hubFor(server).listSearchPage({ day: DAY, platform: "S2B" }, 0);

    const [seen] = server.requests;
    expect(seen?.path).toBe("/dhus/search");
    expect(seen?.query.get("q")).toBe(
      "(platformname:Sentinel-2) AND (processinglevel:Level-1C) AND " +
        "(ingestiondate:[2024-01-01T00:00:00.000Z TO 2024-01-01T23:59:59.999Z]) AND " +
        "(platformserialidentifier:Sentinel-2B)",
    );
    expect(Object.fromEntries(seen?.query ?? [])).toMatchObject({
      rows: "100",
      start: "0",
      orderby: "ingestiondate asc",
      format: "json",
    });
    expect(seen?.url).not.toMatch(/[ +]/);
    expect(seen?.headers.authorization).toBe(
      `Basic ${Buffer.from("searcher:search-pass").toString("base64")}`,
    );
  });

  it("narrows the window to the query's from and to", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("search-empty")));

    await hubFor(server).listSearchPage(
      { ...S2A, from: "2024-01-01T06:00:00Z", to: "2024-01-01T07:00:00.000Z" },
      0,
    );

    expect(server.requests[0]?.query.get("q")).toContain(
      "(ingestiondate:[2024-01-01T06:00:00.000Z TO 2024-01-01T07:00:00.000Z])",
    );
  });

  it("reads a single result sent as a lone entry object with lone int and double groups", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("search-single")));

    const result = await hubFor(server).listSearchPage({ day: DAY, platform: "S2B" }, 0);

    expect(result).toMatchObject({ totalResults: 1, entriesOnPage: 1, rejected: [] });
    expect(result.granules).toEqual([
      expect.objectContaining({
        granuleId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b03",
        platform: "S2B",
        tileId: "48QWD",
        sizeBytes: 845 * 1024,
      }),
    ]);
  });

  it("refuses a page whose opensearch:startIndex is not the start asked for (a hub ignoring start)", async () => {
    const server = await serve((_req, res) => sendJson(res, page([entry(), entry()], "500")));

    const error = await hubFor(server)
      .listSearchPage(S2A, 100)
      .then(
        () => undefined,
        (caught: Caught) => caught,
      );

    expect(error).toBeInstanceOf(InvalidHubDataError);
    expect(error?.message).toContain("asked from 100 answered opensearch:startIndex 0");
  });

  it("answers an empty page when the feed has no entry", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("search-empty")));

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result).toEqual({ totalResults: 0, entriesOnPage: 0, granules: [], rejected: [], entryIds: [] });
  });

  it("pages by the entries on the page until the total is reached", async () => {
    const server = await serve((_req, res, seen) =>
      sendJson(res, answering(page([entry(), entry()], "5"), seen)),
    );
    const hub = hubFor(server, { pageSize: 2 });

    const first = await hub.listSearchPage(S2A, 0);
    const last = await hub.listSearchPage(S2A, 3);

    expect(first).toMatchObject({ totalResults: 5, entriesOnPage: 2, nextOffset: 2 });
    expect(last).toMatchObject({ entriesOnPage: 2, nextOffset: undefined });
    expect(server.requests.map((r) => [r.query.get("start"), r.query.get("rows")])).toEqual([
      ["0", "2"],
      ["3", "2"],
    ]);
  });

  it("stops paging at an empty page even when the total says more", async () => {
    const server = await serve((_req, res, seen) => sendJson(res, answering(page(undefined, "400"), seen)));

    const result = await hubFor(server).listSearchPage(S2A, 300);

    expect(result).toMatchObject({ totalResults: 400, entriesOnPage: 0, nextOffset: undefined });
  });

  it("rejects entries outside the tile allow-list and keeps the rest", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("search-page")));
    const hub = hubFor(server, { filterRules: { tiles: new Set(["35SNA"]), maxAcquisitionAgeDays: 30 } });

    const result = await hub.listSearchPage(S2A, 0);

    expect(result.granules.map((g) => g.tileId)).toEqual(["35SNA"]);
    expect(result.rejected).toEqual([
      {
        id: "6b1f54c5-8c1e-4a8e-9a6f-0b6a3a1d2f01",
        name: "S2A_MSIL1C_20240101T101421_N0510_R022_T32TQM_20240101T105935",
        reason: expect.stringContaining("allow-list"),
        filter: "tile",
      },
    ]);
    expect(result.entriesOnPage).toBe(2);
  });

  it("rejects an acquisition older than the limit", async () => {
    const old = entry((e) => {
      e.date[1].content = "2023-11-01T10:14:21.024Z";
      e.date[2].content = "2023-11-01T10:14:21.024Z";
    });
    const server = await serve((_req, res) => sendJson(res, page([old], "1")));

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result.granules).toEqual([]);
    expect(result.rejected[0]?.reason).toMatch(/more than 30 days/);
  });

  it("rejects a product type other than S2MSI1C", async () => {
    const l2a = entry((e) => setStr(e, "producttype", "S2MSI2A"));
    const server = await serve((_req, res) => sendJson(res, page([l2a], "1")));

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result.rejected).toEqual([
      expect.objectContaining({ reason: "product type S2MSI2A is not S2MSI1C" }),
    ]);
  });

  it("rejects a malformed entry without losing the rest of the page", async () => {
    const broken = entry((e) => {
      e.id = 42;
    });
    const untitled = entry((e) => {
      e.id = "aa11bb22-0000-4000-8000-000000000001";
      delete e.title;
    });
    const server = await serve((_req, res, seen) =>
      sendJson(res, answering(page([broken, untitled, entry()], "3"), seen)),
    );

    const result = await hubFor(server).listSearchPage(S2A, 10);

    expect(result.granules).toHaveLength(1);
    expect(result.entriesOnPage).toBe(3);
    expect(result.rejected).toEqual([
      {
        id: "entry #10",
        name: broken.title,
        reason: expect.stringMatching(/^invalid entry: id: /),
        filter: "invalid",
      },
      {
        id: "aa11bb22-0000-4000-8000-000000000001",
        reason: expect.stringMatching(/^invalid entry: title: /),
        filter: "invalid",
      },
    ]);
  });

  it("names the missing fields of an entry", async () => {
    const partial = entry((e) => {
      e.date = e.date.filter((f: Json) => f.name !== "ingestiondate");
    });
    const loneStr = entry((e) => {
      e.str = { name: "filename", content: `${e.title}.SAFE` };
    });
    const server = await serve((_req, res) => sendJson(res, page([partial, loneStr])));

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result.rejected.map((r) => r.reason)).toEqual([
      "missing field(s) ingestiondate",
      "missing field(s) size, producttype, platformserialidentifier",
    ]);
  });

  it("rejects a title that would escape the key space", async () => {
    const escaping = entry((e) => {
      e.title = "../S2A_MSIL1C_20240101T101421_N0510_R022_T32TQM_20240101T105935";
      setStr(e, "filename", `${e.title}.SAFE`);
    });
    const server = await serve((_req, res) => sendJson(res, page([escaping], "1")));

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result.granules).toEqual([]);
    expect(result.rejected[0]?.reason).toContain('contains ".."');
  });

  it("rejects entries whose fields contradict the product name", async () => {
    const otherTile = entry((e) => setStr(e, "tileid", "33UUP"));
    const otherFile = entry((e) =>
      setStr(e, "filename", "S2A_MSIL1C_20240101T101421_N0510_R022_T32TQM_X.SAFE"),
    );
    const otherPlatform = entry((e) => setStr(e, "platformserialidentifier", "Sentinel-2B"));
    const unreadableSize = entry((e) => setStr(e, "size", "lots"));
    const localTime = entry((e) => {
      e.date[1].content = "2024-01-01 10:14:21";
    });
    const server = await serve((_req, res) =>
      sendJson(res, page([otherTile, otherFile, otherPlatform, unreadableSize, localTime], "5")),
    );

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result.granules).toEqual([]);
    expect(result.rejected.map((r) => r.reason)).toEqual([
      expect.stringContaining("tile 33UUP"),
      expect.stringContaining("does not match title"),
      expect.stringContaining("platform Sentinel-2B"),
      'size "lots" is not readable',
      'beginposition "2024-01-01 10:14:21" is not an RFC 3339 timestamp',
    ]);
  });

  it("rejects an entry of another platform than the query's", async () => {
    const server = await serve((_req, res) => sendJson(res, page([entry()], "1")));

    const result = await hubFor(server).listSearchPage({ day: DAY, platform: "S2B" }, 0);

    expect(result.granules).toEqual([]);
    expect(result.rejected[0]?.reason).toBe("platform S2A was not asked for (S2B)");
  });

  it("throws InvalidHubDataError on a malformed envelope", async () => {
    const bodies: unknown[] = [
      { feed: { "opensearch:totalResults": 2, entry: [entry()] } },
      { feed: { "opensearch:totalResults": "two" } },
      { results: [] },
      { feed: { "opensearch:totalResults": "1", entry: "S2A" } },
    ];
    const server = await serve((_req, res) => sendJson(res, bodies[server.requests.length - 1]));
    const hub = hubFor(server);

    for (const _ of bodies) {
      await expect(hub.listSearchPage(S2A, 0)).rejects.toBeInstanceOf(InvalidHubDataError);
    }
    expect(server.requests).toHaveLength(bodies.length);
  });

  it("throws the retryable HubUnavailableError on a page cut short", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"feed": {"opensearch:totalResults": "1", "entry": [');
    });

    const error = await rejection(hubFor(server).listSearchPage(S2A, 0));

    expect(error).toBeInstanceOf(HubUnavailableError);
    expect(error.name).toBe("HubUnavailableError");
  });

  it("refuses a bad query before calling the hub", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("search-empty")));
    const hub = hubFor(server);

    await expect(hub.listSearchPage({ day: "2024-02-30", platform: "S2A" }, 0)).rejects.toMatchObject({
      name: "InvalidInputError",
      field: "day",
    });
    await expect(hub.listSearchPage(S2A, -1)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(hub.listSearchPage({ ...S2A, from: "noon" }, 0)).rejects.toBeInstanceOf(InvalidInputError);
    expect(server.requests).toHaveLength(0);
  });

  it("waits out a 429's Retry-After and then lists the page", async () => {
    const server = await serve((_req, res) => {
      if (server.requests.length === 1) sendJson(res, "busy", 429, { "retry-after": "1" });
      else sendJson(res, fixture("search-page"));
    });

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result.granules).toHaveLength(2);
    expect((server.requests[1]?.at ?? 0) - (server.requests[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it("retries a 503 and lists the page", async () => {
    const server = await serve((_req, res) => {
      if (server.requests.length === 1) sendJson(res, "maintenance", 503);
      else sendJson(res, fixture("search-page"));
    });

    const result = await hubFor(server).listSearchPage(S2A, 0);

    expect(result.granules).toHaveLength(2);
    expect(server.requests).toHaveLength(2);
  });

  it("throws HubAuthError on 401 without retrying", async () => {
    const server = await serve((_req, res) => sendJson(res, "Unauthorized", 401));

    const error = await rejection(hubFor(server).listSearchPage(S2A, 0));

    expect(error).toBeInstanceOf(HubAuthError);
    expect(server.requests).toHaveLength(1);
  });
});

describe("DhusHub.getChecksum", () => {
  const ID = "6b1f54c5-8c1e-4a8e-9a6f-0b6a3a1d2f01";

  it("returns the published MD5 in lowercase", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("checksum")));

    const md5 = await hubFor(server).getChecksum(ID);

    expect(md5).toBe("9e107d9d372bb6826bd81d3542a419d6");
    expect(server.requests[0]?.path).toBe(`/dhus/odata/v1/Products('${ID}')/`);
    expect(Object.fromEntries(server.requests[0]?.query ?? [])).toEqual({
      $format: "json",
      $select: "Checksum",
    });
  });

  it("throws InvalidHubDataError on a checksum that is not hex", async () => {
    const body = fixture("checksum");
    body.d.Checksum.Value = "not-a-checksum-at-all-0123456789";
    const server = await serve((_req, res) => sendJson(res, body));

    const error = await rejection(hubFor(server).getChecksum(ID));

    expect(error).toBeInstanceOf(InvalidHubDataError);
    expect(error.granuleId).toBe(ID);
  });

  it("throws ChecksumNotPublishedError when the checksum is absent or empty", async () => {
    const absent = fixture("checksum");
    delete absent.d.Checksum;
    const empty = fixture("checksum");
    empty.d.Checksum.Value = "";
    const nulled = fixture("checksum");
    nulled.d.Checksum = null;
    const nullValue = fixture("checksum");
    nullValue.d.Checksum.Value = null;
    const nullFields = fixture("checksum");
    nullFields.d.Checksum = { __metadata: { type: "DHuS.Checksum" }, Algorithm: null, Value: null };
    const bodies = [absent, empty, nulled, nullValue, nullFields];
    const server = await serve((_req, res) => sendJson(res, bodies[server.requests.length - 1]));
    const hub = hubFor(server);

    for (const _ of bodies) {
      const error = await rejection(hub.getChecksum(ID));
      expect(error).toBeInstanceOf(ChecksumNotPublishedError);
      expect(error).toMatchObject({ name: "ChecksumNotPublishedError", granuleId: ID });
    }
    expect(server.requests).toHaveLength(bodies.length);
  });

  it("throws InvalidHubDataError on an answer without d or with another algorithm", async () => {
    const sha = fixture("checksum");
    sha.d.Checksum.Algorithm = "SHA3-256";
    const bodies = [{ error: { message: "nope" } }, sha];
    const server = await serve((_req, res) => sendJson(res, bodies[server.requests.length - 1]));
    const hub = hubFor(server);

    await expect(hub.getChecksum(ID)).rejects.toBeInstanceOf(InvalidHubDataError);
    await expect(hub.getChecksum(ID)).rejects.toThrow(/SHA3-256, not MD5/);
  });

  it("throws GranuleGoneError on 404", async () => {
    const server = await serve((_req, res) => sendJson(res, { error: "not found" }, 404));

    const error = await rejection(hubFor(server).getChecksum(ID));

    expect(error).toBeInstanceOf(GranuleGoneError);
    expect(error).toMatchObject({ name: "GranuleGoneError", granuleId: ID, status: 404 });
  });

  it("refuses an id that could break out of the URL", async () => {
    const server = await serve((_req, res) => sendJson(res, fixture("checksum")));
    const hub = hubFor(server);

    for (const id of ["x')/Nodes('y", "../../etc", "a b", ""]) {
      await expect(hub.getChecksum(id)).rejects.toMatchObject({
        name: "InvalidInputError",
        field: "granuleId",
      });
      await expect(hub.openDownload(id)).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(server.requests).toHaveLength(0);
  });
});

describe("DhusHub.openDownload", () => {
  const ID = "0c3e6f2a-51b7-4d0e-8f36-7c2d9e4b1a02";
  const bytes = Buffer.from("PK\u0003\u0004 pretend this is a Sentinel-2 product");

  it("resumes from the offset when the hub honours Range", async () => {
    const server = await serve((req, res) => sendBytes(req, res, bytes));

    const download = await hubFor(server).openDownload(ID, { offset: 10 });

    expect(download).toMatchObject({ offset: 10, contentLength: bytes.length - 10 });
    expect(await buffer(download.body)).toEqual(bytes.subarray(10));
    expect(server.requests[0]?.path).toBe(`/dhus/odata/v1/Products('${ID}')/$value`);
    expect(server.requests[0]?.headers.range).toBe("bytes=10-");
  });

  it("reports offset 0 when the hub ignores Range", async () => {
    const server = await serve((req, res) => sendBytes(req, res, bytes, { ignoreRange: true }));

    const download = await hubFor(server).openDownload(ID, { offset: 10 });

    expect(download.offset).toBe(0);
    expect(await buffer(download.body)).toEqual(bytes);
  });

  it("throws GranuleGoneError on 410", async () => {
    const server = await serve((_req, res) => sendJson(res, "gone", 410));

    const error = await rejection(hubFor(server).openDownload(ID));

    expect(error).toMatchObject({ name: "GranuleGoneError", granuleId: ID, status: 410 });
  });

  it("downloads from IntHub2 with its own credentials when configured", async () => {
    const search = await serve((_req, res) => sendJson(res, "search host only", 500));
    const inthub = await serve((req, res) => sendBytes(req, res, bytes));
    const hub = hubFor(search, {
      download: { url: `${inthub.url}/`, credentials: { username: "downloader", password: "inthub-pass" } },
    });

    const download = await hub.openDownload(ID);

    expect(await buffer(download.body)).toEqual(bytes);
    expect(search.requests).toHaveLength(0);
    expect(inthub.requests[0]?.path).toBe(`/dhus/odata/v1/Products('${ID}')/$value`);
    expect(inthub.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("downloader:inthub-pass").toString("base64")}`,
    );
  });

  it("never puts a password in the errors it throws", async () => {
    const password = "Tr0ub4dor&3-horse";
    const encoded = Buffer.from(`carol:${password}`).toString("base64");
    const server = await serve((_req, res) => sendJson(res, "denied", 401));
    const closed = await startTestServer(() => {});
    await closed.close();
    const credentials = { username: "carol", password };
    const hub = hubFor(server, {
      credentials,
      download: { url: closed.url, credentials },
      http: { ...FAST, retries: 0 },
    });

    const errors = [
      await rejection(hub.listSearchPage(S2A, 0)),
      await rejection(hub.getChecksum("6b1f54c5-8c1e-4a8e-9a6f-0b6a3a1d2f01")),
      await rejection(hub.openDownload(ID)),
    ];

    expect(errors.map((e) => e.name)).toEqual(["HubAuthError", "HubAuthError", "HubUnavailableError"]);
    expect(errors[2]).toBeInstanceOf(HubUnavailableError);
    for (const error of errors) {
      const text = [error.message, error.url, error.cause?.message, JSON.stringify(error)].join(" ");
      expect(text).not.toContain(password);
      expect(text).not.toContain(encoded);
    }
  });

  it("refuses a base URL that carries credentials", () => {
    expect(
      () =>
        new DhusHub({
          url: "https://user:secret@scihub.example",
          credentials: { username: "u", password: "p" },
          filterRules: { maxAcquisitionAgeDays: 30 },
        }),
    ).toThrow(InvalidInputError);
  });
});
