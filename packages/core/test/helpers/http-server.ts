import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What the server saw of one request, for assertions on paths, queries and headers. */
export interface RecordedRequest {
  method: string;
  /** Path and query as sent, e.g. `/dhus/search?q=...`. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Milliseconds since the server started, to measure waits between attempts. */
  at: number;
}

export type TestHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  seen: RecordedRequest,
) => void | Promise<void>;

export interface TestServer {
  /** Base URL, `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * Starts a loopback HTTP server that records every request and answers with `handler`.
 * A handler that throws answers 500, so a test sees the failure instead of a hang.
 */
export async function startTestServer(handler: TestHandler): Promise<TestServer> {
  const started = performance.now();
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    const parsed = new URL(request.url ?? "/", "http://127.0.0.1");
    const seen: RecordedRequest = {
      method: request.method ?? "GET",
      url: request.url ?? "/",
      path: parsed.pathname,
      query: parsed.searchParams,
      headers: request.headers,
      at: performance.now() - started,
    };
    requests.push(seen);
    Promise.resolve()
      .then(() => handler(request, response, seen))
      .catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    // Idempotent, so a test may close early (to provoke ECONNREFUSED) and its afterEach close again.
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Answers `body` as JSON with `status` (default 200) and extra headers. */
export function sendJson(
  response: ServerResponse,
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/**
 * Answers `bytes` honouring `Range: bytes=N-` with 206 (unless `ignoreRange`), like a hub's `$value`.
 */
export function sendBytes(
  request: IncomingMessage,
  response: ServerResponse,
  bytes: Buffer,
  options: { ignoreRange?: boolean } = {},
): void {
  const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? "");
  if (range?.[1] !== undefined && !options.ignoreRange) {
    const start = Number(range[1]);
    const part = bytes.subarray(start);
    response.writeHead(206, {
      "content-type": "application/octet-stream",
      "content-length": part.length,
      "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
    });
    response.end(part);
    return;
  }
  response.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
  response.end(bytes);
}
