import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the proxy saw: the DynamoDB operation (from `X-Amz-Target`) and the JSON body. */
export interface ProxiedRequest {
  operation: string;
  body: string;
}

/**
 * A loopback HTTP proxy in front of a DynamoDB endpoint that can lose answers: an armed request is
 * forwarded, applied and answered by the target, and then the client's connection is reset instead of
 * the answer reaching it — what the SDK sees when a response is lost, so it retries a write that was
 * already applied.
 */
export interface LossyProxy {
  /** `http://127.0.0.1:<port>`, for a client's `endpoint`. */
  readonly endpoint: string;
  /** Requests whose answer was dropped, in order. */
  readonly lost: readonly ProxiedRequest[];
  /** Every request forwarded, in order. */
  readonly seen: readonly ProxiedRequest[];
  /** Drops the answer of the next `times` (default 1) requests `match` accepts. */
  loseNext(match: (request: ProxiedRequest) => boolean, times?: number): void;
  close(): Promise<void>;
}

/** Starts a LossyProxy on 127.0.0.1 (a free port) forwarding to `target` (e.g. a dynalite endpoint). */
export async function startLossyProxy(target: string): Promise<LossyProxy> {
  const upstream = new URL(target);
  const lost: ProxiedRequest[] = [];
  const seen: ProxiedRequest[] = [];
  const armed: { match: (request: ProxiedRequest) => boolean; left: number }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const targetHeader = String(req.headers["x-amz-target"] ?? "");
      const seenRequest = { operation: targetHeader.split(".").pop() ?? "", body: body.toString("utf8") };
      seen.push(seenRequest);
      const arm = armed.find((a) => a.left > 0 && a.match(seenRequest));
      if (arm !== undefined) arm.left -= 1;
      const forward = httpRequest(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: upstream.host } as IncomingHttpHeaders,
          timeout: 10_000,
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => parts.push(chunk));
          answer.on("end", () => {
            if (arm !== undefined) {
              // Applied upstream; the client never hears of it.
              lost.push(seenRequest);
              req.socket.resetAndDestroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(parts));
          });
        },
      );
      forward.on("timeout", () => forward.destroy(new Error("upstream timed out")));
      forward.on("error", () => req.socket.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    lost,
    seen,
    loseNext(match, times = 1) {
      armed.push({ match, left: times });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
