import { type LoopbackProxy, startLoopbackProxy } from "./loopback-proxy";

/** A DynamoDB API call as the proxy sees it. */
export interface DynamoCall {
  /** e.g. `UpdateItem`, from the `x-amz-target` header. */
  operation: string;
  /** The request's JSON (low-level attribute values, e.g. `{ Key: { pk: { S: "…" } } }`). */
  input: Record<string, unknown>;
  /** How many calls of this operation the proxy saw before this one, plus one. */
  ordinal: number;
}

export interface LostDynamo extends LoopbackProxy {
  /** The calls that were applied and whose answer was lost, in arrival order. */
  readonly lostCalls: DynamoCall[];
}

/**
 * A loopback proxy in front of the embedded DynamoDB that, for the calls `select` picks, lets the
 * table apply the call and then resets the client's connection instead of answering: the write
 * happened, its answer is lost, and the SDK retries it (applying it again unless it is idempotent).
 */
// TODO(paging): the `paging` helper is adding an apply-then-reset DynamoDB proxy to this package; once it
// is in main, keep one of the two (same behaviour) and point the chaos scenario at it.
export async function loseDynamoResponses(
  target: string,
  select: (call: DynamoCall) => boolean,
): Promise<LostDynamo> {
  const lostCalls: DynamoCall[] = [];
  const ordinals = new Map<string, number>();
  const proxy = await startLoopbackProxy({
    target,
    decide: (request) => {
      const operation = String(request.headers["x-amz-target"] ?? "").split(".")[1];
      if (operation === undefined) return "forward";
      const ordinal = (ordinals.get(operation) ?? 0) + 1;
      ordinals.set(operation, ordinal);
      let input: Record<string, unknown> = {};
      try {
        input = JSON.parse(request.body.toString("utf8")) as Record<string, unknown>;
      } catch {
        // Not JSON: forwarded as it is, never picked.
        return "forward";
      }
      const call = { operation, input, ordinal };
      if (!select(call)) return "forward";
      lostCalls.push(call);
      return "lose-response";
    },
  });
  return Object.assign(proxy, { lostCalls });
}
