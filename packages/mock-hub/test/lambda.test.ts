import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { createLambdaHandler, optionsFromEnvironment } from "../src/lambda";
import { basic, md5, smallCatalogue, USER } from "./helpers/hub";

function event(
  path: string,
  init: { query?: string; method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return {
    rawPath: path,
    rawQueryString: init.query ?? "",
    headers: init.headers ?? {},
    body: init.body,
    isBase64Encoded: false,
    requestContext: { domainName: "abc.lambda-url.eu-west-1.on.aws", http: { method: init.method ?? "GET" } },
  } as unknown as APIGatewayProxyEventV2;
}

describe("Lambda function-URL handler", () => {
  it("serves a DHuS search with links on the function URL", async () => {
    const catalogue = smallCatalogue({ granulesPerDay: 1 });
    const handler = createLambdaHandler({ catalogue, credentials: USER });
    const query = new URLSearchParams({
      q: "(platformname:Sentinel-2)",
      rows: "10",
      start: "0",
      format: "json",
    });
    const result = await handler(
      event("/dhus/search", { query: query.toString(), headers: { Authorization: basic() } }),
    );
    expect(result.statusCode).toBe(200);
    const feed = JSON.parse(result.body ?? "").feed;
    expect(feed.entry.id).toBe(catalogue.products[0]!.id);
    expect(feed.entry.link[0].href).toMatch(/^https:\/\/abc\.lambda-url\.eu-west-1\.on\.aws\/dhus\/odata/);
  });

  it("serves a product body base64-encoded with the catalogue's MD5, and a Range", async () => {
    const catalogue = smallCatalogue();
    const handler = createLambdaHandler({ catalogue, credentials: USER });
    const id = catalogue.products[0]!.id;
    const whole = await handler(
      event(`/dhus/odata/v1/Products('${id}')/$value`, { headers: { authorization: basic() } }),
    );
    expect(whole.isBase64Encoded).toBe(true);
    expect(md5(Buffer.from(whole.body ?? "", "base64"))).toBe(catalogue.expectedMd5(id));
    const tail = await handler(
      event(`/dhus/odata/v1/Products('${id}')/$value`, {
        headers: { authorization: basic(), range: "bytes=10-" },
      }),
    );
    expect(tail.statusCode).toBe(206);
    expect(Buffer.from(tail.body ?? "", "base64").equals(catalogue.bytes(id, 10))).toBe(true);
  });

  it("grants a CDSE token from a form body", async () => {
    const handler = createLambdaHandler({ catalogue: smallCatalogue() });
    const body = new URLSearchParams({
      grant_type: "password",
      client_id: "cdse-public",
      username: "u",
      password: "p",
    });
    const result = await handler(
      event("/auth/realms/CDSE/protocol/openid-connect/token", { method: "POST", body: body.toString() }),
    );
    expect(JSON.parse(result.body ?? "")).toMatchObject({ expires_in: 600, token_type: "Bearer" });
  });

  it("answers 502 where a Node server would reset the connection", async () => {
    const catalogue = smallCatalogue();
    const id = catalogue.products[0]!.id;
    const handler = createLambdaHandler({
      catalogue,
      faults: { granules: { [id]: { kind: "resetAfterBytes" } } },
    });
    const result = await handler(event(`/dhus/odata/v1/Products('${id}')/$value`));
    expect(result.statusCode).toBe(502);
  });

  it("builds its catalogue from MOCK_HUB_* variables", () => {
    const options = optionsFromEnvironment({
      MOCK_HUB_SEED: "9",
      MOCK_HUB_DAYS: "2026-11-20..2026-11-22",
      MOCK_HUB_GRANULES: "2",
      MOCK_HUB_SIZE: "1KiB",
      MOCK_HUB_USERNAME: "u",
      MOCK_HUB_PASSWORD: "p",
    });
    expect(options.catalogue.products).toHaveLength(6);
    expect(options.catalogue.products.every((p) => p.sizeBytes === 1024)).toBe(true);
    expect(options.credentials).toEqual({ username: "u", password: "p" });
    expect(() => optionsFromEnvironment({ MOCK_HUB_FAULT_PROFILE: "wild" })).toThrow(
      /MOCK_HUB_FAULT_PROFILE/,
    );
  });
});
