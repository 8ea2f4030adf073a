import { createHash } from "node:crypto";
import type { MockProduct } from "./catalogue";
import { type Predicate, parseCdseFilter, stringAttributes } from "./cdse-filter";
import { checksumRequest, faultResponse, gatedProductValue, type HubContext, productValue } from "./context";
import { endlessJson, json, type MockRequest, type MockResponse } from "./http";

const MAX_TOP = 1000;
const MAX_SKIP = 10_000;
const TOKEN_PATH = "/auth/realms/CDSE/protocol/openid-connect/token";
const RESTO_PATH = "/resto/api/collections/Sentinel2/search.json";

/** Routes a CDSE request (catalogue, zipper, resto, identity); undefined when the path is not one. */
export function handleCdse(
  ctx: HubContext,
  req: MockRequest,
): MockResponse | Promise<MockResponse> | undefined {
  if (req.path === TOKEN_PATH) {
    ctx.stats.countRoute("cdse.token");
    if (req.method !== "POST") return json(405, { error: "method_not_allowed" });
    const reply = ctx.tokens.grant(new URLSearchParams(req.body));
    return json(reply.status, reply.body);
  }
  if (req.path === RESTO_PATH) {
    ctx.stats.countRoute("cdse.resto");
    return resto(ctx, req);
  }
  if (req.path === "/odata/v1/Products") {
    ctx.stats.countRoute("cdse.products");
    return listProducts(ctx, req);
  }
  const match = /^(\/download)?\/odata\/v1\/Products\('?([0-9a-fA-F-]+)'?\)(\/\$value)?$/.exec(req.path);
  if (match === null || (match[1] !== undefined && match[3] === undefined)) return undefined;
  const id = match[2] ?? "";
  if (match[3] === undefined) {
    ctx.stats.countRoute("cdse.product");
    return singleProduct(ctx, req, id);
  }
  ctx.stats.countRoute("cdse.value");
  if (ctx.redirectDownloads && match[1] === undefined) {
    // The catalogue host sends downloads to the zipper host; the client must carry its token along.
    const location = `${req.baseUrl}/download/odata/v1/Products(${id})/$value`;
    return { status: 301, headers: { location, "content-type": "text/html" }, body: "" };
  }
  return zipper(ctx, req, id);
}

function notFound(id: string): MockResponse {
  return json(404, { detail: { message: `Product ${id} not found`, request_id: id } });
}

/** CDSE's validation error (FastAPI shape) for a query parameter out of bounds. */
function validationError(parameter: string, limit: number): MockResponse {
  return json(400, {
    detail: [
      {
        loc: ["query", parameter],
        msg: `ensure this value is less than or equal to ${limit}`,
        type: "value_error.number.not_le",
        ctx: { limit_value: limit },
      },
    ],
  });
}

const ORDER_FIELDS: Record<string, (p: MockProduct) => string> = {
  publicationdate: (p) => p.publishedAt,
  "contentdate/start": (p) => p.sensingStart,
  name: (p) => p.name,
};

async function listProducts(ctx: HubContext, req: MockRequest): Promise<MockResponse> {
  const top = Number(req.query.get("$top") ?? "20");
  const skip = Number(req.query.get("$skip") ?? "0");
  if (!Number.isInteger(top) || top < 0) return json(400, { detail: "$top must be a non-negative integer" });
  if (!Number.isInteger(skip) || skip < 0)
    return json(400, { detail: "$skip must be a non-negative integer" });
  if (top > MAX_TOP) return validationError("$top", MAX_TOP);
  if (skip > MAX_SKIP) return validationError("$skip", MAX_SKIP);
  let predicate: Predicate;
  try {
    predicate = parseCdseFilter(req.query.get("$filter") ?? "");
  } catch (error) {
    return json(400, { detail: (error as Error).message });
  }
  const orderby = /^(\S+)(?:\s+(asc|desc))?$/i.exec(
    (req.query.get("$orderby") ?? "PublicationDate asc").trim(),
  );
  const orderKey = ORDER_FIELDS[(orderby?.[1] ?? "").toLowerCase()];
  if (orderKey === undefined)
    return json(400, { detail: `unsupported $orderby ${req.query.get("$orderby")}` });
  const descending = (orderby?.[2] ?? "asc").toLowerCase() === "desc";
  const pageKey = `cdse:${req.query.get("$filter")}:${req.query.get("$orderby")}:${top}:${skip}`;
  const fault = ctx.faults.searchFault(pageKey, skip);
  if (fault?.kind === "endlessBody") {
    return endlessJson(
      `{"@odata.context":"$metadata#Products","@odata.count":${ctx.catalogue.products.length},"value":[`,
      `{"Id":"00000000-0000-4000-8000-000000000000","Name":"endless"},`,
    );
  }
  if (fault !== undefined && fault.kind !== "malformedPage" && fault.kind !== "ignoreOffset")
    return searchFaultResponse(fault);

  const byKey = (a: MockProduct, b: MockProduct) =>
    orderKey(a).localeCompare(orderKey(b)) || a.id.localeCompare(b.id);
  const matching = ctx.faults.paging
    .view(ctx.catalogue.products.filter(predicate).sort(byKey), "cdse")
    .sort(byKey);
  if (descending) matching.reverse();
  // ignoreOffset: the first page whatever `$skip` asked; the next link still advances from `$skip`.
  const served = fault?.kind === "ignoreOffset" ? 0 : skip;
  const page = matching.slice(served, served + top);
  const expand = (req.query.get("$expand") ?? "").split(",").includes("Attributes");
  const body: Record<string, unknown> = {
    "@odata.context": expand ? "$metadata#Products(Attributes())" : "$metadata#Products",
  };
  if (req.query.get("$count") === "true") body["@odata.count"] = matching.length;
  body.value = await Promise.all(page.map((p) => productJson(ctx, p, expand)));
  if (skip + page.length < matching.length && top > 0) {
    const next = new URL(`${req.baseUrl}${req.path}`);
    for (const [key, value] of req.query) next.searchParams.set(key, value);
    next.searchParams.set("$skip", String(skip + top));
    body["@odata.nextLink"] = next.toString();
  }
  const text = JSON.stringify(body);
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: fault?.kind === "malformedPage" ? text.slice(0, Math.floor(text.length / 2)) : text,
  };
}

function searchFaultResponse(fault: {
  kind: string;
  status?: number;
  retryAfterSeconds?: number;
}): MockResponse {
  if (fault.kind === "http5xx")
    return faultResponse({ kind: "http5xx", status: fault.status ?? 503 }, "cdse");
  if (fault.kind === "throttle429") {
    return faultResponse({ kind: "throttle429", retryAfterSeconds: fault.retryAfterSeconds ?? 1 }, "cdse");
  }
  return faultResponse({ kind: "authRefused" }, "cdse");
}

async function productJson(
  ctx: HubContext,
  p: MockProduct,
  expand: boolean,
): Promise<Record<string, unknown>> {
  const published = Date.parse(p.publishedAt);
  const checksumDate = new Date(published + 60_000).toISOString();
  // MD5 stays absent while the checksumLate fault holds: CDSE publishes it hours after the product.
  const checksums: Record<string, unknown>[] = [];
  if (!ctx.faults.checksumPending(p.id)) {
    checksums.push({
      Value: await ctx.catalogue.expectedMd5Async(p.id, ctx.faults.archiveVariant(p.id)),
      Algorithm: "MD5",
      ChecksumDate: checksumDate,
    });
  }
  // Not a real BLAKE3 (no such hash in node:crypto): a stable stand-in no client should verify.
  const blake3 = createHash("sha256").update(`blake3:${p.id}`).digest("hex");
  checksums.push({ Value: blake3, Algorithm: "BLAKE3", ChecksumDate: checksumDate });
  const [y, mo, d] = p.sensingStart.slice(0, 10).split("-");
  const product: Record<string, unknown> = {
    "@odata.mediaContentType": "application/octet-stream",
    Id: p.id,
    Name: `${p.name}.SAFE`,
    ContentType: "application/octet-stream",
    ContentLength: p.sizeBytes,
    OriginDate: new Date(published - 5 * 60_000).toISOString(),
    PublicationDate: p.publishedAt,
    ModificationDate: p.publishedAt,
    Online: !ctx.faults.offline(p.id, false),
    EvictionDate: "",
    S3Path: `/eodata/Sentinel-2/MSI/L1C/${y}/${mo}/${d}/${p.name}.SAFE`,
    Checksum: checksums,
    ContentDate: { Start: p.sensingStart, End: p.sensingEnd },
    Footprint: `geography'SRID=4326;${p.footprint}'`,
    GeoFootprint: { type: "Polygon", coordinates: [polygonCoordinates(p.footprint)] },
  };
  if (expand) product.Attributes = attributes(p);
  return product;
}

function polygonCoordinates(wkt: string): number[][] {
  return wkt
    .slice("POLYGON ((".length, -2)
    .split(", ")
    .map((pair) => pair.split(" ").map(Number));
}

function attributes(p: MockProduct): Record<string, unknown>[] {
  const typed = (type: string, name: string, value: unknown) => ({
    "@odata.type": `#OData.CSC.${type}Attribute`,
    Name: name,
    Value: value,
    ValueType: type,
  });
  return [
    ...Object.entries(stringAttributes(p)).map(([name, value]) => typed("String", name, value)),
    typed("Integer", "orbitNumber", p.absoluteOrbit),
    typed("Integer", "relativeOrbitNumber", p.relativeOrbit),
    typed("Double", "cloudCover", p.cloudCover),
    typed("DateTimeOffset", "beginningDateTime", p.sensingStart),
    typed("DateTimeOffset", "endingDateTime", p.sensingEnd),
  ];
}

async function singleProduct(ctx: HubContext, req: MockRequest, id: string): Promise<MockResponse> {
  const request = checksumRequest(ctx, id, "cdse", notFound);
  if ("reply" in request) return request.reply;
  const { product } = request;
  const expand = (req.query.get("$expand") ?? "").split(",").includes("Attributes");
  const offline = ctx.faults.offline(id, true);
  const body = await productJson(ctx, product, expand);
  if (offline) body.Online = false;
  // checksumPending() is only consulted after this request's hit was consumed; keep the MD5 out of this reply too.
  if (request.md5Late) {
    body.Checksum = (body.Checksum as { Algorithm: string }[]).filter((c) => c.Algorithm !== "MD5");
  }
  return json(200, { "@odata.context": "$metadata#Products/$entity", ...body });
}

function zipper(ctx: HubContext, req: MockRequest, id: string): MockResponse {
  const auth = ctx.tokens.authorize(req.headers.authorization);
  if (!("user" in auth)) return json(auth.status, auth.body);
  const product = ctx.catalogue.get(id);
  if (product === undefined) return notFound(id);
  const fault = ctx.faults.statusFault(id, "value", req.method);
  if (fault !== undefined) return faultResponse(fault, "cdse");
  if (req.method === "HEAD") return productValue(ctx, req, product);
  const user = auth.user;
  if (!ctx.tokens.beginDownload(user)) {
    return json(429, { detail: `Max session number ${ctx.tokens.maxDownloads} exceeded` });
  }
  return gatedProductValue(ctx, req, product, () => ctx.tokens.endDownload(user));
}

async function resto(ctx: HubContext, req: MockRequest): Promise<MockResponse> {
  const q = req.query;
  const maxRecords = Number(q.get("maxRecords") ?? "20");
  const page = Number(q.get("page") ?? "1");
  const index = q.has("index") ? Number(q.get("index")) : (page - 1) * maxRecords + 1;
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > MAX_TOP)
    return validationError("maxRecords", MAX_TOP);
  if (!Number.isInteger(index) || index < 1) return json(400, { detail: "index must be a positive integer" });
  if (index - 1 > MAX_SKIP) return validationError("index", MAX_SKIP + 1);
  const fault = ctx.faults.searchFault(`resto:${q.toString()}`, index - 1);
  if (fault !== undefined && fault.kind !== "malformedPage") return searchFaultResponse(fault);
  const bound = (name: string) => (q.has(name) ? Date.parse(q.get(name) ?? "") : undefined);
  const after = bound("publishedAfter");
  const before = bound("publishedBefore");
  const productType = q.get("productType");
  const platform = q.get("platform");
  const tileId = q.get("tileId");
  const matching = ctx.catalogue.products.filter((p) => {
    const published = Date.parse(p.publishedAt);
    return (
      (productType === null || productType === "S2MSI1C") &&
      (platform === null ||
        platform.toUpperCase() === p.platform ||
        platform.toUpperCase() === `SENTINEL-2${p.platform.slice(2)}`) &&
      (tileId === null || tileId === p.tileId) &&
      (after === undefined || published >= after) &&
      (before === undefined || published < before)
    );
  });
  if ((q.get("sortOrder") ?? "ascending").startsWith("desc")) matching.reverse();
  const features = matching.slice(index - 1, index - 1 + maxRecords);
  const links: { rel: string; type: string; title: string; href: string }[] = [];
  if (index - 1 + features.length < matching.length) {
    const next = new URL(`${req.baseUrl}${req.path}`);
    for (const [key, value] of q) if (key !== "index") next.searchParams.set(key, value);
    next.searchParams.set("page", String(Math.floor((index - 1) / maxRecords) + 2));
    links.push({ rel: "next", type: "application/json", title: "Next", href: next.toString() });
  }
  const body = JSON.stringify({
    type: "FeatureCollection",
    properties: {
      id: "mock-hub",
      totalResults: matching.length,
      exactCount: true,
      startIndex: index,
      itemsPerPage: features.length,
      links,
    },
    features: features.map((p) => ({
      type: "Feature",
      id: p.id,
      geometry: { type: "Polygon", coordinates: [polygonCoordinates(p.footprint)] },
      properties: {
        collection: "SENTINEL-2",
        status: "ONLINE",
        title: `${p.name}.SAFE`,
        productIdentifier: `/eodata/Sentinel-2/MSI/L1C/${p.name}.SAFE`,
        parentIdentifier: null,
        published: p.publishedAt,
        updated: p.publishedAt,
        startDate: p.sensingStart,
        completionDate: p.sensingEnd,
        productType: "S2MSI1C",
        processingLevel: "S2MSI1C",
        platform: p.platform,
        instrument: "MSI",
        cloudCover: p.cloudCover,
        orbitNumber: p.absoluteOrbit,
        relativeOrbitNumber: p.relativeOrbit,
        services: {
          download: {
            url: `${req.baseUrl}/odata/v1/Products(${p.id})/$value`,
            mimeType: "application/octet-stream",
            size: p.sizeBytes,
          },
        },
      },
    })),
  });
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: fault?.kind === "malformedPage" ? body.slice(0, Math.floor(body.length / 2)) : body,
  };
}
