import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Catalogue } from "./catalogue";
import type { HubContext } from "./context";
import type { FaultPlan } from "./faults";
import type { ProductBody } from "./http";
import type { PagingFaultCounts } from "./paging";
import { createHubContext, type HubContextOptions, handleRequest } from "./router";
import type { Introspection } from "./stats";
import type { TokenStore } from "./tokens";

export interface MockHubOptions extends HubContextOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback only. */
  host?: "127.0.0.1";
  /** Per-connection limit on `$value` bodies (CDSE allows ~20 MB/s per connection); default unlimited. */
  bandwidthBytesPerSecond?: number;
}

export interface MockHub {
  /** `http://127.0.0.1:<port>`: DHuS base (routes under `/dhus`) and CDSE catalogue, zipper and identity base. */
  url: string;
  port: number;
  catalogue: Catalogue;
  stats: Introspection;
  tokens: TokenStore;
  /** Replaces the fault plan (and forgets which faults already fired). */
  setFaults(plan: FaultPlan): void;
  /** What the plan's paging faults did since it was set. */
  pagingFaults(): PagingFaultCounts;
  close(): Promise<void>;
}

/** Starts the mock hub on loopback; resolves once it listens. */
export async function startMockHub(options: MockHubOptions): Promise<MockHub> {
  const host = options.host ?? "127.0.0.1";
  if (host !== "127.0.0.1") throw new RangeError(`host must be 127.0.0.1, got ${host}`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new RangeError(`port must be 0–65535, got ${port}`);
  const bandwidth = options.bandwidthBytesPerSecond;
  if (bandwidth !== undefined && !(bandwidth > 0))
    throw new RangeError(`bandwidthBytesPerSecond must be > 0, got ${bandwidth}`);
  const ctx = createHubContext(options);

  // A 1 MiB socket buffer lets a body go out in fewer drain round trips; memory stays bounded per connection.
  const server = createServer({ highWaterMark: 1024 * 1024 }, (req, res) => {
    serve(ctx, req, res, bandwidth).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ detail: `mock hub error: ${(error as Error).message}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    catalogue: ctx.catalogue,
    stats: ctx.stats,
    tokens: ctx.tokens,
    setFaults: (plan) => ctx.faults.setPlan(plan),
    pagingFaults: () => ({ ...ctx.faults.paging.counts }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        // Keep-alive sockets and bodies in flight would hold close() open.
        server.closeAllConnections();
      }),
  };
}

async function serve(
  ctx: HubContext,
  req: IncomingMessage,
  res: ServerResponse,
  bandwidth?: number,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const host = req.headers.host ?? "127.0.0.1";
  const url = new URL(req.url ?? "/", `http://${host}`);
  let path = url.pathname;
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape stays as sent; the router answers 404.
  }
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  const response = await handleRequest(ctx, {
    method: req.method ?? "GET",
    path,
    query: url.searchParams,
    headers,
    body: Buffer.concat(chunks).toString("utf8"),
    baseUrl: `http://${host}`,
  });
  res.writeHead(response.status, response.headers);
  if (response.endless !== undefined) {
    await sendEndless(res, response.endless);
    return;
  }
  if (response.product === undefined) {
    res.end(response.body);
    return;
  }
  await sendProduct(ctx, res, response.product, bandwidth);
}

/**
 * Streams a product body chunk by chunk, generating the next chunk only once the socket drained,
 * so memory stays at a few blocks whatever the product size; applies reset, trickle, corruption.
 */
async function sendProduct(
  ctx: HubContext,
  res: ServerResponse,
  body: ProductBody,
  bandwidth?: number,
): Promise<void> {
  const { granuleId, start, end, faults } = body;
  let closed = false;
  res.once("close", () => {
    closed = true;
  });
  const rates = [bandwidth, faults.bytesPerSecond].filter((rate): rate is number => rate !== undefined);
  const rate = rates.length === 0 ? undefined : Math.min(...rates);
  // Rate-limited bodies go out in pieces of ~1/20 s so the pace is smooth, not bursty.
  const piece = rate === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(rate / 20));
  const began = Date.now();
  let position = start;
  let sent = 0;
  try {
    for (const block of ctx.catalogue.chunks(granuleId, start, end, body.variant)) {
      if (
        faults.corruptAt !== undefined &&
        faults.corruptAt >= position &&
        faults.corruptAt < position + block.length
      ) {
        // Blocks are fresh buffers, so flipping in place never touches what others are served.
        block[faults.corruptAt - position]! ^= 0xff;
      }
      position += block.length;
      for (let offset = 0; offset < block.length; offset += piece) {
        let part = block.subarray(offset, Math.min(block.length, offset + piece));
        const reset = faults.resetAfterBytes !== undefined && sent + part.length >= faults.resetAfterBytes;
        if (reset) part = part.subarray(0, (faults.resetAfterBytes ?? 0) - sent);
        if (closed) return;
        // Pace before writing, so the body ends (and frees its download slot) right after its last byte.
        const ahead = rate === undefined ? 0 : began + (sent / rate) * 1000 - Date.now();
        if (ahead > 0) await sleep(ahead);
        if (closed) return;
        sent += part.length;
        ctx.stats.countGranule(granuleId, "bytesServed", part.length);
        if (reset) {
          await flushed(res, part);
          res.socket?.destroy();
          return;
        }
        if (!res.write(part)) await drainOrClose(res);
      }
    }
    if (faults.garbageBytes !== undefined && !closed) {
      const garbage = Buffer.alloc(faults.garbageBytes, 0x5a);
      ctx.stats.countGranule(granuleId, "bytesServed", garbage.length);
      if (!res.write(garbage)) await drainOrClose(res);
    }
    if (faults.claimExtraBytes !== undefined) {
      // The framing lied: after the real bytes the connection goes, as a server that gave up would.
      if (!closed) await flushed(res, Buffer.alloc(0));
      res.socket?.destroy();
      return;
    }
    res.end();
  } finally {
    body.onClose();
  }
}

/** Writes `prefix` and then `filler` forever, respecting backpressure, until the client hangs up. */
async function sendEndless(res: ServerResponse, body: { prefix: string; filler: string }): Promise<void> {
  let closed = false;
  res.once("close", () => {
    closed = true;
  });
  const filler = Buffer.from(body.filler.repeat(Math.max(1, Math.floor(65_536 / body.filler.length))));
  res.write(body.prefix);
  while (!closed) {
    if (!res.write(filler)) await drainOrClose(res);
  }
}

/** Writes a part; resolves once it was handed to the socket (or the socket went away). */
function flushed(res: ServerResponse, part: Buffer): Promise<void> {
  return new Promise((resolve) => {
    res.write(part, () => resolve());
  });
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}
