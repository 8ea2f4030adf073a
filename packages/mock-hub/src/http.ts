import type { ArchiveVariant } from "./archive";
import type { BodyFaults } from "./faults";

/** A request as every transport (Node server, Lambda function URL) hands it to the routes. */
export interface MockRequest {
  method: string;
  /** Decoded path, e.g. `/dhus/odata/v1/Products('…')/$value`. */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  body: string;
  /** Scheme, host and port the client used, for absolute links (`@odata.nextLink`, DHuS entry links). */
  baseUrl: string;
}

/** A product body to stream: the transport generates bytes [start, end) and applies the body faults. */
export interface ProductBody {
  granuleId: string;
  start: number;
  end: number;
  faults: BodyFaults;
  /** The archive variant served (a broken upstream), if any. */
  variant?: ArchiveVariant;
  /** Called once the body is finished, aborted or reset (releases a CDSE download slot). */
  onClose: () => void;
}

export interface MockResponse {
  status: number;
  headers: Record<string, string>;
  body?: string | Buffer;
  product?: ProductBody;
  /** A body that never ends: `prefix`, then `filler` again and again until the client hangs up. */
  endless?: { prefix: string; filler: string };
}

/** A 200 JSON answer that opens an array and never closes it (the endlessBody search fault). */
export function endlessJson(prefix: string, filler: string): MockResponse {
  return { status: 200, headers: { "content-type": "application/json" }, endless: { prefix, filler } };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): MockResponse {
  return { status, headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

export function text(status: number, body: string, headers: Record<string, string> = {}): MockResponse {
  return { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers }, body };
}

/** Parses `Range: bytes=N-`, `bytes=N-M` or `bytes=-K`; undefined when absent, "invalid" when unsatisfiable. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "invalid" | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return "invalid";
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return "invalid";
  if (first === "") {
    const suffix = Number(last);
    return suffix === 0 ? "invalid" : { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(first);
  const end = last === "" ? size : Math.min(size, Number(last) + 1);
  if (start >= size || end <= start) return "invalid";
  return { start, end };
}

/** Whether the Basic credentials match one of the accepted pairs (any when none is configured). */
export function basicAuthorized(
  header: string | undefined,
  accepted: readonly ({ username: string; password: string } | undefined)[],
): boolean {
  const pairs = accepted.filter((pair) => pair !== undefined);
  if (pairs.length === 0) return true;
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (match?.[1] === undefined) return false;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  return colon > 0 && pairs.some((pair) => pair.username === username && pair.password === password);
}
