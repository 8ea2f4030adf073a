import { quoteValue } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import {
  isInvalidPush,
  PUSH_MAX_BODY_BYTES,
  parsePushNotification,
  recordPushedGranule,
} from "@hls-s2/core/usecases";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { basicAuthMatches } from "./lib/basic-auth";
import { logger } from "./lib/logger";
import { getFilterRules, getPushCredentials, getStore } from "./lib/runtime";

/** The one route CDSE's push subscription delivers to. */
export const PUSH_PATH = "/events";
/** What a 401 asks the caller for; CDSE sends the subscription's NotificationEpUsername/Password. */
export const PUSH_AUTH_CHALLENGE = 'Basic realm="hls-s2-push", charset="UTF-8"';

/**
 * The CDSE push endpoint behind a Lambda function URL (payload format 2.0). A function URL, not an
 * API Gateway HTTP API: there is one route, the Basic check must run in the function anyway (an HTTP
 * API has no Basic authorizer and CDSE cannot sign IAM requests), and a URL adds no service to pay,
 * throttle or keep in step. 204 also for a filtered-out or duplicate product, so the hub does not retry
 * it; an infrastructure failure throws, the URL answers 502 and the hub delivers again. A body over
 * PUSH_MAX_BODY_BYTES is refused with 413 before it is decoded or parsed.
 */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  if (event.rawPath !== PUSH_PATH) return problem(404, `no route ${quoteValue(event.rawPath)}`);
  if (event.requestContext.http.method !== "POST") return problem(405, "POST only", { allow: "POST" });
  // Before the credentials too: refusing a flood of big bodies costs no Secrets Manager call.
  const size = bodyBytes(event);
  if (size > PUSH_MAX_BODY_BYTES) {
    logger.warn("push refused: body too large", {
      atLeastBytes: size,
      sourceIp: event.requestContext.http.sourceIp,
    });
    return problem(413, `body is larger than the ${PUSH_MAX_BODY_BYTES}-byte limit`);
  }
  if (!basicAuthMatches(header(event, "authorization"), await getPushCredentials())) {
    logger.warn("push refused: missing or wrong credentials", {
      sourceIp: event.requestContext.http.sourceIp,
    });
    return problem(401, "authentication required", { "www-authenticate": PUSH_AUTH_CHALLENGE });
  }
  let notification: ReturnType<typeof parsePushNotification>;
  try {
    notification = parsePushNotification(jsonBody(event));
  } catch (error) {
    if (!isInvalidPush(error)) throw error;
    // Core's messages quote at most ~100 characters of a value, so neither line can echo the body.
    logger.warn("invalid push notification", { error });
    return problem(400, (error as Error).message);
  }
  const result = await recordPushedGranule(notification, {
    store: getStore(),
    filterRules: getFilterRules(),
  });
  logger.info("push received", {
    ...result,
    event: notification.event,
    subscriptionId: notification.subscriptionId,
  });
  return { statusCode: 204 };
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  // Function URLs lower-case header names; a local caller may not.
  const entry = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}

/**
 * The body's size in bytes as the caller sent it (a lower bound once it is clearly over the limit),
 * without decoding it. AWS: "body — The body of the
 * request. If the content type of the request is binary, the body is base64-encoded", and
 * "isBase64Encoded — TRUE if the body is a binary payload and base64-encoded" (Lambda developer guide,
 * "Invoking Lambda function URLs", request payload format).
 */
function bodyBytes(event: APIGatewayProxyEventV2): number {
  const body = event.body ?? "";
  if (event.isBase64Encoded) {
    // 4 base64 characters carry 3 bytes; trailing "=" pad the last group.
    const padding = body.endsWith("==") ? 2 : body.endsWith("=") ? 1 : 0;
    return Math.max(0, Math.floor((body.length * 3) / 4) - padding);
  }
  // Each UTF-16 unit is at least one UTF-8 byte: a string this long is over the limit unmeasured.
  if (body.length > PUSH_MAX_BODY_BYTES) return body.length;
  return Buffer.byteLength(body, "utf8");
}

function jsonBody(event: APIGatewayProxyEventV2): unknown {
  const text = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64").toString("utf8")
    : (event.body ?? "");
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidInputError("push body is not JSON", { field: "body" });
  }
}

function problem(
  statusCode: number,
  detail: string,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ detail }),
  };
}
