import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request the proxy received, whole (the proxies here sit in front of S3 and DynamoDB stand-ins). */
export interface ProxiedRequest {
  /** 1 for the first request the proxy saw, and so on. */
  sequence: number;
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/**
 * What the proxy does with a request:
 * - `forward`: passes it on and answers with the server's answer;
 * - `stall`: never forwards it and never answers (the socket is held until `release()` or `close()`);
 * - `lose-response`: forwards it, lets the server apply it, then resets the client's connection
 *   instead of answering (the answer is lost; an SDK sees ECONNRESET and retries).
 */
export type ProxyAction = "forward" | "stall" | "lose-response";

export interface LoopbackProxy {
  /** `http://127.0.0.1:<port>`: point a client's endpoint here. */
  url: string;
  /** Requests held by `stall`, in arrival order. */
  readonly stalled: ProxiedRequest[];
  /** Requests whose answer was lost by `lose-response`, in arrival order. */
  readonly lost: ProxiedRequest[];
  /** Resets the connection of every stalled request (the client sees ECONNRESET). */
  release(): void;
  /** Stops listening and resets every connection still open. */
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy on 127.0.0.1 in front of one loopback server, deciding request by request what
 * to do (see ProxyAction). Bodies are buffered: it is meant for API calls and parts of a few MiB.
 */
export async function startLoopbackProxy(options: {
  /** The server behind the proxy, `http://127.0.0.1:<port>`. */
  target: string;
  decide: (request: ProxiedRequest) => ProxyAction;
}): Promise<LoopbackProxy> {
  const target = new URL(options.target);
  if (target.hostname !== "127.0.0.1")
    throw new RangeError(`target must be on 127.0.0.1, got ${target.host}`);
  const stalled: ProxiedRequest[] = [];
  const lost: ProxiedRequest[] = [];
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();
  let sequence = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const proxied: ProxiedRequest = {
      sequence: ++sequence,
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    const action = options.decide(proxied);
    if (action === "stall") {
      stalled.push(proxied);
      held.add(req.socket);
      return;
    }
    const answer = await forward(target, proxied);
    if (action === "lose-response") {
      lost.push(proxied);
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const release = () => {
    for (const socket of held) socket.destroy();
    held.clear();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    stalled,
    lost,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        release();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends the request on to the server and reads its whole answer. */
function forward(
  target: URL,
  proxied: ProxiedRequest,
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: target.hostname,
        port: target.port,
        method: proxied.method,
        path: proxied.url,
        // The signature covers the host header: keep the client's, which names the proxy.
        headers: proxied.headers,
        timeout: 60_000,
      },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () =>
          resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
        );
        answer.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error("loopback proxy: upstream timed out")));
    outgoing.on("error", reject);
    outgoing.end(proxied.body);
  });
}
