import type { MockProduct } from "./catalogue";
import { checksumRequest, faultResponse, gatedProductValue, type HubContext, humanSize } from "./context";
import { basicAuthorized, endlessJson, json, type MockRequest, type MockResponse, text } from "./http";

const MAX_ROWS = 100;
const PLATFORM_IDENTIFIERS: Record<string, string> = { S2A: "2015-028A", S2B: "2017-013A", S2C: "2024-157A" };

/** Routes a request under the DHuS prefix; undefined when the path is not a DHuS route. */
export function handleDhus(
  ctx: HubContext,
  req: MockRequest,
): MockResponse | Promise<MockResponse> | undefined {
  const rest = req.path.slice(ctx.dhusPrefix.length);
  const product = /^\/odata\/v1\/Products\('([^']+)'\)(\/?|\/\$value)$/.exec(rest);
  if (rest !== "/search" && product === null) return undefined;
  const route =
    rest === "/search" ? "dhus.search" : product?.[2] === "/$value" ? "dhus.value" : "dhus.checksum";
  ctx.stats.countRoute(route);
  // IntHub2 is the same API with its own account: either pair is accepted.
  if (!basicAuthorized(req.headers.authorization, [ctx.credentials, ctx.downloadCredentials])) {
    return text(401, "Unauthorized", { "www-authenticate": 'Basic realm="OData service"' });
  }
  if (route === "dhus.search") return search(ctx, req);
  const id = product?.[1] ?? "";
  return route === "dhus.value" ? value(ctx, req, id) : checksum(ctx, req, id);
}

function notFound(id: string): MockResponse {
  return json(404, {
    error: { code: null, message: { lang: "en", value: `Invalid key (${id}) to navigate to Products` } },
  });
}

async function checksum(ctx: HubContext, req: MockRequest, id: string): Promise<MockResponse> {
  const request = checksumRequest(ctx, id, "dhus", notFound);
  if ("reply" in request) return request.reply;
  const { product } = request;
  const variant = ctx.faults.archiveVariant(id);
  const md5 = request.md5Late ? null : (await ctx.catalogue.expectedMd5Async(id, variant)).toUpperCase();
  const checksumValue = {
    __metadata: { type: "DHuS.Checksum" },
    Algorithm: md5 === null ? null : "MD5",
    Value: md5,
  };
  const uri = `${req.baseUrl}${ctx.dhusPrefix}/odata/v1/Products('${id}')`;
  const metadata = {
    id: uri,
    uri,
    type: "DHuS.Product",
    content_type: "application/octet-stream",
    media_src: `${uri}/$value`,
  };
  const select = req.query.get("$select");
  if (select === "Checksum") return json(200, { d: { __metadata: metadata, Checksum: checksumValue } });
  return json(200, {
    d: {
      __metadata: metadata,
      Id: id,
      Name: product.name,
      ContentType: "application/octet-stream",
      ContentLength: String(product.sizeBytes),
      ContentDate: {
        __metadata: { type: "DHuS.TimeRange" },
        Start: odataDate(product.sensingStart),
        End: odataDate(product.sensingEnd),
      },
      IngestionDate: odataDate(product.publishedAt),
      Online: true,
      OnDemand: false,
      Checksum: checksumValue,
    },
  });
}

function value(ctx: HubContext, req: MockRequest, id: string): MockResponse {
  const product = ctx.catalogue.get(id);
  if (product === undefined) return notFound(id);
  const fault = ctx.faults.statusFault(id, "value", req.method);
  if (fault !== undefined) return faultResponse(fault, "dhus");
  return gatedProductValue(ctx, req, product);
}

interface DhusQuery {
  from?: number;
  to?: number;
  platform?: string;
  /** False when a term rules out every L1C product (another product type or mission). */
  matchesAny: boolean;
}

/** Parses the `q` subset the downloader sends; throws RangeError on what it cannot read. */
export function parseDhusQuery(q: string): DhusQuery {
  const query: DhusQuery = { matchesAny: true };
  for (const match of q.matchAll(/(\w+):(\[[^\]]*\]|"[^"]*"|[^\s()]+)/g)) {
    const [, field = "", raw = ""] = match;
    const term = raw.replace(/^"|"$/g, "");
    switch (field.toLowerCase()) {
      case "ingestiondate": {
        const range = /^\[\s*(\S+)\s+TO\s+(\S+)\s*\]$/.exec(term);
        const from = Date.parse(range?.[1] ?? "");
        const to = Date.parse(range?.[2] ?? "");
        if (Number.isNaN(from) || Number.isNaN(to)) throw new RangeError(`cannot read ingestiondate ${term}`);
        query.from = from;
        query.to = to;
        break;
      }
      case "platformserialidentifier": {
        const platform = /^Sentinel-2([A-Z])$/i.exec(term);
        if (platform?.[1] === undefined) query.matchesAny = false;
        else query.platform = `S2${platform[1].toUpperCase()}`;
        break;
      }
      case "platformname":
        query.matchesAny &&= term.toLowerCase() === "sentinel-2";
        break;
      case "processinglevel":
        query.matchesAny &&= term.toLowerCase() === "level-1c";
        break;
      case "producttype":
        query.matchesAny &&= term.toUpperCase() === "S2MSI1C";
        break;
      default:
        throw new RangeError(`the mock hub does not imitate the search term ${field}`);
    }
  }
  return query;
}

function search(ctx: HubContext, req: MockRequest): MockResponse {
  const q = req.query.get("q") ?? "";
  const rows = Number(req.query.get("rows") ?? "10");
  const start = Number(req.query.get("start") ?? "0");
  const orderby = (req.query.get("orderby") ?? "ingestiondate desc").trim().toLowerCase();
  if (req.query.get("format") !== "json") return text(400, "the mock hub answers format=json only");
  if (!Number.isInteger(rows) || rows < 0 || rows > MAX_ROWS) {
    return json(400, {
      error: {
        code: null,
        message: { lang: "en", value: `Parameter rows must be between 0 and ${MAX_ROWS}` },
      },
    });
  }
  if (!Number.isInteger(start) || start < 0) return text(400, "start must be a non-negative integer");
  if (orderby !== "ingestiondate desc" && orderby !== "ingestiondate asc")
    return text(400, `unsupported orderby ${orderby}`);
  let query: DhusQuery;
  try {
    query = parseDhusQuery(q);
  } catch (error) {
    return text(400, (error as Error).message);
  }

  const fault = ctx.faults.searchFault(`dhus:${q}:${rows}:${orderby}:${start}`, start);
  if (fault?.kind === "endlessBody") {
    return endlessJson(
      `{"feed":{"opensearch:totalResults":"${ctx.catalogue.products.length}","entry":[`,
      `{"id":"00000000-0000-4000-8000-000000000000","title":"endless"},`,
    );
  }
  if (fault !== undefined && fault.kind !== "malformedPage" && fault.kind !== "ignoreOffset") {
    return faultResponse(
      fault.kind === "http5xx"
        ? { kind: "http5xx", status: fault.status ?? 503 }
        : fault.kind === "throttle429"
          ? { kind: "throttle429", retryAfterSeconds: fault.retryAfterSeconds ?? 1 }
          : { kind: "authRefused" },
      "dhus",
    );
  }

  const matching = ctx.faults.paging.view(
    ctx.catalogue.products.filter(
      (p) =>
        query.matchesAny &&
        (query.from === undefined || Date.parse(p.publishedAt) >= query.from) &&
        (query.to === undefined || Date.parse(p.publishedAt) <= query.to) &&
        (query.platform === undefined || p.platform === query.platform),
    ),
    "dhus",
  );
  // The catalogue is sorted oldest first; ties are broken by id, so paging is stable (but under a tie fault).
  const ordered = orderby.endsWith("desc") ? [...matching].reverse() : matching;
  // ignoreOffset: the first page whatever `start` asked, while the feed still echoes `start`.
  const served = fault?.kind === "ignoreOffset" ? 0 : start;
  const page = ordered.slice(served, served + rows);
  const base = `${req.baseUrl}${ctx.dhusPrefix}`;
  const self = `${base}/search?${req.query.toString()}`;
  const total = ordered.length;
  const feed: Record<string, unknown> = {
    "xmlns:opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    xmlns: "http://www.w3.org/2005/Atom",
    title: `Sentinels Scientific Data Hub search results for: ${q}`,
    subtitle:
      page.length === 0
        ? "Displaying 0 results. Request done in 0.001 seconds."
        : `Displaying ${start} to ${start + page.length - 1} of ${total} total results. Request done in 0.001 seconds.`,
    updated: new Date(ctx.now()).toISOString(),
    author: { name: "Sentinels Scientific Data Hub" },
    id: `${base}/search?q=${q}`,
    // DHuS sends every number of the feed as a string.
    "opensearch:totalResults": String(total),
    "opensearch:startIndex": String(start),
    "opensearch:itemsPerPage": String(rows),
    "opensearch:Query": { role: "request", searchTerms: q, startPage: "1" },
    link: pageLinks(self, start, rows, total),
  };
  // The awkward shapes of the real API: no `entry` when empty, a lone object for one result.
  if (page.length === 1 && page[0] !== undefined) feed.entry = entry(page[0], base);
  else if (page.length > 1) feed.entry = page.map((p) => entry(p, base));
  const body = JSON.stringify({ feed });
  if (fault?.kind === "malformedPage")
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: body.slice(0, Math.floor(body.length / 2)),
    };
  return { status: 200, headers: { "content-type": "application/json" }, body };
}

function pageLinks(
  self: string,
  start: number,
  rows: number,
  total: number,
): { rel: string; type: string; href: string }[] {
  const at = (offset: number) => {
    const url = new URL(self);
    url.searchParams.set("start", String(offset));
    return url.toString();
  };
  const links = [
    { rel: "self", type: "application/atom+xml", href: self },
    { rel: "first", type: "application/atom+xml", href: at(0) },
  ];
  if (start + rows < total) links.push({ rel: "next", type: "application/atom+xml", href: at(start + rows) });
  if (rows > 0)
    links.push({
      rel: "last",
      type: "application/atom+xml",
      href: at(Math.max(0, Math.floor((total - 1) / rows) * rows)),
    });
  return links;
}

function entry(p: MockProduct, base: string): Record<string, unknown> {
  const size = humanSize(p.sizeBytes);
  const uri = `${base}/odata/v1/Products('${p.id}')`;
  return {
    title: p.name,
    link: [
      { href: `${uri}/$value` },
      { rel: "alternative", href: `${uri}/` },
      { rel: "icon", href: `${uri}/Products('Quicklook')/$value` },
    ],
    id: p.id,
    summary: `Date: ${p.sensingStart}, Instrument: MSI, Satellite: Sentinel-2, Size: ${size}`,
    ondemand: "false",
    date: [
      { name: "ingestiondate", content: p.publishedAt },
      { name: "beginposition", content: p.sensingStart },
      { name: "endposition", content: p.sensingEnd },
    ],
    int: [
      { name: "orbitnumber", content: String(p.absoluteOrbit) },
      { name: "relativeorbitnumber", content: String(p.relativeOrbit) },
    ],
    // Real answers send a one-member group as a lone object, not an array.
    double: { name: "cloudcoverpercentage", content: String(p.cloudCover) },
    str: [
      { name: "filename", content: `${p.name}.SAFE` },
      {
        name: "gmlfootprint",
        content: `<gml:Polygon srsName="http://www.opengis.net/gml/srs/epsg.xml#4326"/>`,
      },
      { name: "format", content: "SAFE" },
      { name: "processingbaseline", content: "05.10" },
      { name: "platformname", content: "Sentinel-2" },
      { name: "identifier", content: p.name },
      { name: "instrumentname", content: "Multi-Spectral Instrument" },
      { name: "instrumentshortname", content: "MSI" },
      { name: "footprint", content: `MULTIPOLYGON (((${p.footprint.slice("POLYGON ((".length, -2)})))` },
      { name: "platformidentifier", content: PLATFORM_IDENTIFIERS[p.platform] ?? "" },
      { name: "orbitdirection", content: "DESCENDING" },
      { name: "platformserialidentifier", content: `Sentinel-2${p.platform.slice(2)}` },
      { name: "processinglevel", content: "Level-1C" },
      { name: "producttype", content: "S2MSI1C" },
      { name: "size", content: size },
      { name: "tileid", content: p.tileId },
      {
        name: "hv_order_tileid",
        content: `${p.tileId.slice(2, 3)}${p.tileId.slice(0, 2)}${p.tileId.slice(3)}`,
      },
      { name: "uuid", content: p.id },
    ],
  };
}

/** `/Date(1700000000000)/`, OData v2's JSON date. */
function odataDate(iso: string): string {
  return `/Date(${Date.parse(iso)})/`;
}
