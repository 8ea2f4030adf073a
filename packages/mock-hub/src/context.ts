import type { ArchiveVariant } from "./archive";
import type { Catalogue, MockProduct } from "./catalogue";
import type { FaultEngine, StatusFault } from "./faults";
import { json, type MockRequest, type MockResponse, parseRange } from "./http";
import type { Introspection } from "./stats";
import type { Credentials, TokenStore } from "./tokens";

/** Everything a route needs: the catalogue, the fault engine, the counters, the token service. */
export interface HubContext {
  catalogue: Catalogue;
  faults: FaultEngine;
  stats: Introspection;
  tokens: TokenStore;
  now: () => number;
  /** DHuS Basic credentials (SciHub); none = any request is accepted. */
  credentials?: Credentials;
  /** A second accepted DHuS pair (IntHub2 downloads). */
  downloadCredentials?: Credentials;
  dhusPrefix: string;
  /** CDSE `$value` answers 301 to `/download/odata/v1/Products(<id>)/$value`, like the catalogue's redirect to the zipper. */
  redirectDownloads: boolean;
}

export type Flavour = "dhus" | "cdse";

/** The reply of a status fault, shaped like the hub family answers it. */
export function faultResponse(fault: StatusFault, flavour: Flavour): MockResponse {
  const error = (status: number, message: string, headers: Record<string, string> = {}) =>
    flavour === "dhus"
      ? json(status, { error: { code: null, message: { lang: "en", value: message } } }, headers)
      : json(status, { detail: message }, headers);
  switch (fault.kind) {
    case "http5xx":
      return error(fault.status, "Service temporarily unavailable");
    case "throttle429":
      return error(429, "Too Many Requests", { "retry-after": String(fault.retryAfterSeconds) });
    case "authRefused":
      return error(
        401,
        "Unauthorized",
        flavour === "dhus" ? { "www-authenticate": 'Basic realm="OData service"' } : {},
      );
    case "gone":
      return error(
        fault.status,
        fault.status === 410 ? "Product is no longer available" : "Product not found",
      );
    case "checksumLate":
      return error(500, "checksumLate is answered by the checksum route");
  }
}

/**
 * The product a checksum (product metadata) request names, counted as a checksum GET, and whether
 * its MD5 is late (checksumLate); or the reply instead: `notFound` for an unknown id, a status fault.
 */
export function checksumRequest(
  ctx: HubContext,
  id: string,
  flavour: Flavour,
  notFound: (id: string) => MockResponse,
): { product: MockProduct; md5Late: boolean } | { reply: MockResponse } {
  const product = ctx.catalogue.get(id);
  if (product === undefined) return { reply: notFound(id) };
  ctx.stats.countGranule(id, "checksumGets");
  const fault = ctx.faults.statusFault(id, "checksum");
  if (fault !== undefined && fault.kind !== "checksumLate") return { reply: faultResponse(fault, flavour) };
  return { product, md5Late: fault?.kind === "checksumLate" };
}

/**
 * A `$value` GET through the hub-wide download limit: 429 with CDSE's words beyond it, else the body,
 * which frees its place when it ends (however it ends). HEAD is no download and passes.
 */
export function gatedProductValue(
  ctx: HubContext,
  req: MockRequest,
  product: MockProduct,
  onClose = () => {},
): MockResponse {
  if (req.method === "HEAD") return productValue(ctx, req, product, onClose);
  const gate = ctx.stats.downloads;
  if (!gate.begin()) {
    onClose();
    return json(429, { detail: `Max session number ${gate.limit} exceeded` });
  }
  return productValue(ctx, req, product, () => {
    gate.end();
    onClose();
  });
}

/** Answers a `$value` GET or HEAD for a product, after the route's auth and status faults. */
export function productValue(
  ctx: HubContext,
  req: MockRequest,
  product: MockProduct,
  onClose = () => {},
): MockResponse {
  const size = product.sizeBytes;
  const headers: Record<string, string> = {
    "content-type": "application/zip",
    "accept-ranges": "bytes",
    "content-disposition": `attachment; filename="${product.name}.zip"`,
  };
  if (req.method === "HEAD") {
    ctx.stats.countGranule(product.id, "headRequests");
    onClose();
    return { status: 200, headers: { ...headers, "content-length": String(size) } };
  }
  const range = parseRange(req.headers.range, size);
  if (range === "invalid") {
    onClose();
    return { status: 416, headers: { "content-range": `bytes */${size}` }, body: "" };
  }
  ctx.stats.countGranule(product.id, "valueGets");
  if (range !== undefined) ctx.stats.countGranule(product.id, "rangeGets");
  const asked = range ?? { start: 0, end: size };
  // rangeEarly: the 206 starts before the asked offset, and its Content-Range says so.
  const early = range === undefined ? undefined : ctx.faults.rangeEarlyBytes(product.id, asked.start);
  const start = asked.start - (early ?? 0);
  const faults = ctx.faults.bodyFaults(product.id, start, asked.end, size);
  // lengthShorter: the body and its Content-Length stop short of the product (what a client sees of
  // a server writing past a short Content-Length: its HTTP parser never delivers the excess).
  const end = asked.end - (faults.claimFewerBytes ?? 0);
  const claimed = end - start + (faults.claimExtraBytes ?? 0);
  return {
    status: range === undefined ? 200 : 206,
    headers: {
      ...headers,
      // trailingGarbage: no Content-Length, so the body's end is where the hub says it is.
      ...(faults.garbageBytes === undefined ? { "content-length": String(claimed) } : {}),
      ...(range === undefined ? {} : { "content-range": `bytes ${start}-${asked.end - 1}/${size}` }),
    },
    product: {
      granuleId: product.id,
      start,
      end,
      faults,
      onClose,
      ...optionalVariant(ctx.faults.archiveVariant(product.id, true)),
    },
  };
}

function optionalVariant(variant: ArchiveVariant | undefined): { variant?: ArchiveVariant } {
  return variant === undefined ? {} : { variant };
}

/** "660.95 MB": DHuS's size string (binary units, two decimals). */
export function humanSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)} ${units[unit]}`;
}
