import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { createCatalogue, type MockPlatform } from "./catalogue";
import type { HubContext } from "./context";
import { FAULT_PROFILES } from "./fault-profiles";
import { createHubContext, type HubContextOptions, handleRequest } from "./router";
import { credentialsOf, parseDays, parseSize } from "./settings";

type FunctionUrlHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * A Lambda function-URL handler serving the same routes as the Node server. Bodies are buffered
 * (a function URL answers at most 6 MB buffered): keep products small. A function URL cannot cut a
 * connection or pace a body, so `resetAfterBytes` answers 502 and `trickle` is ignored.
 */
export function createLambdaHandler(options: HubContextOptions): FunctionUrlHandler {
  const ctx = createHubContext(options);
  return (event) => answer(ctx, event);
}

let fromEnvironment: FunctionUrlHandler | undefined;

/** The deployed handler: its catalogue comes from MOCK_HUB_* environment variables, built at first call. */
export const handler: FunctionUrlHandler = (event) => {
  fromEnvironment ??= createLambdaHandler(optionsFromEnvironment(process.env));
  return fromEnvironment(event);
};

/** MOCK_HUB_SEED, _DAYS, _GRANULES, _SIZE, _PLATFORMS, _USERNAME, _PASSWORD, _FAULT_PROFILE. */
export function optionsFromEnvironment(env: Record<string, string | undefined>): HubContextOptions {
  const profile = (env.MOCK_HUB_FAULT_PROFILE ?? "none") as keyof typeof FAULT_PROFILES;
  if (FAULT_PROFILES[profile] === undefined)
    throw new RangeError(`MOCK_HUB_FAULT_PROFILE must be one of ${Object.keys(FAULT_PROFILES).join(", ")}`);
  return {
    catalogue: createCatalogue({
      seed: env.MOCK_HUB_SEED ?? "42",
      days: parseDays(env.MOCK_HUB_DAYS ?? new Date().toISOString().slice(0, 10)),
      granulesPerDay: Number(env.MOCK_HUB_GRANULES ?? "20"),
      sizeBytes: parseSize(env.MOCK_HUB_SIZE ?? "256KiB-1MiB"),
      platforms: env.MOCK_HUB_PLATFORMS?.split(",") as MockPlatform[] | undefined,
    }),
    credentials: credentialsOf(env.MOCK_HUB_USERNAME, env.MOCK_HUB_PASSWORD),
    faults: FAULT_PROFILES[profile],
  };
}

async function answer(
  ctx: HubContext,
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body =
    event.body === undefined
      ? ""
      : event.isBase64Encoded
        ? Buffer.from(event.body, "base64").toString("utf8")
        : event.body;
  let path = event.rawPath;
  try {
    path = decodeURIComponent(path);
  } catch {
    // Left as sent; the router answers 404.
  }
  const response = await handleRequest(ctx, {
    method: event.requestContext.http.method,
    path,
    query: new URLSearchParams(event.rawQueryString),
    headers,
    body,
    baseUrl: `https://${event.requestContext.domainName}`,
  });
  if (response.endless !== undefined) {
    // A function URL buffers its answer: an endless body cannot be sent, only its first 1 MB.
    const { prefix, filler } = response.endless;
    return {
      statusCode: 200,
      headers: response.headers,
      body: prefix + filler.repeat(1_000_000 / filler.length),
    };
  }
  const product = response.product;
  if (product === undefined) {
    const raw = response.body ?? "";
    return typeof raw === "string"
      ? { statusCode: response.status, headers: response.headers, body: raw }
      : {
          statusCode: response.status,
          headers: response.headers,
          body: raw.toString("base64"),
          isBase64Encoded: true,
        };
  }
  try {
    if (product.faults.resetAfterBytes !== undefined) {
      return {
        statusCode: 502,
        headers: { "content-type": "application/json" },
        body: '{"detail":"Bad Gateway"}',
      };
    }
    const bytes = Buffer.concat([
      ...ctx.catalogue.chunks(product.granuleId, product.start, product.end, product.variant),
    ]);
    const corruptAt = product.faults.corruptAt;
    if (corruptAt !== undefined) bytes[corruptAt - product.start]! ^= 0xff;
    ctx.stats.countGranule(product.granuleId, "bytesServed", bytes.length);
    return {
      statusCode: response.status,
      headers: response.headers,
      body: bytes.toString("base64"),
      isBase64Encoded: true,
    };
  } finally {
    product.onClose();
  }
}
