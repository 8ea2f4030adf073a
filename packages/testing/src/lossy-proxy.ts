import { startLoopbackProxy } from "./loopback-proxy";

/** A request the proxy saw: the DynamoDB operation (from `X-Amz-Target`) and the JSON body. */
export interface ProxiedRequest {
  operation: string;
  body: string;
}

/**
 * A loopback proxy in front of a DynamoDB endpoint that can lose answers: an armed request is applied
 * by the table, then the client's connection is reset instead of the answer reaching it, so the SDK
 * retries a write that was already applied.
 */
// The `paging` helper's branch has this API at this path (its own implementation); this one stands in
// until that is in main, built on the loopback proxy the stalled-part fault uses. On merge keep theirs.
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
  const lost: ProxiedRequest[] = [];
  const seen: ProxiedRequest[] = [];
  const armed: { match: (request: ProxiedRequest) => boolean; left: number }[] = [];
  const proxy = await startLoopbackProxy({
    target,
    decide: (request) => {
      const operation =
        String(request.headers["x-amz-target"] ?? "")
          .split(".")
          .pop() ?? "";
      const proxied = { operation, body: request.body.toString("utf8") };
      seen.push(proxied);
      const arm = armed.find((candidate) => candidate.left > 0 && candidate.match(proxied));
      if (arm === undefined) return "forward";
      arm.left -= 1;
      lost.push(proxied);
      return "lose-response";
    },
  });
  return {
    endpoint: proxy.url,
    lost,
    seen,
    loseNext(match, times = 1) {
      armed.push({ match, left: times });
    },
    close: () => proxy.close(),
  };
}
