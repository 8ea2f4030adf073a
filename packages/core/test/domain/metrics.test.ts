import { afterEach, describe, expect, it } from "vitest";
import { getJson } from "../../src/adapters/hub/http";
import { HubThrottledError } from "../../src/domain/errors";
import {
  hubResponseMetric,
  hubStatusClass,
  METRIC_NAMES,
  METRICS,
  type MetricSink,
} from "../../src/domain/metrics";
import { sendJson, startTestServer, type TestServer } from "../helpers/http-server";

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function countingSink() {
  const counts = new Map<string, number>();
  const sink: MetricSink = {
    add(name, value, dimensions) {
      const key = dimensions === undefined ? name : `${name}:${dimensions.errorName}`;
      counts.set(key, (counts.get(key) ?? 0) + value);
    },
  };
  return { sink, counts };
}

describe("hubStatusClass", () => {
  it("keeps 429 apart from the other 4xx and ignores redirects", () => {
    expect([200, 206, 404, 401, 429, 500, 503, 302, 101].map(hubStatusClass)).toEqual([
      "2xx",
      "2xx",
      "4xx",
      "4xx",
      "429",
      "5xx",
      "5xx",
      undefined,
      undefined,
    ]);
  });

  it("maps every class to a metric the constant declares", () => {
    for (const statusClass of ["2xx", "4xx", "429", "5xx"] as const) {
      expect(METRIC_NAMES).toContain(hubResponseMetric(statusClass));
      expect(METRICS[hubResponseMetric(statusClass)].source).toBe("hub");
    }
  });
});

describe("the hub client's counts", () => {
  it("counts each answer by status class and each failed attempt by error name, retries included", async () => {
    const statuses = [429, 503, 200];
    const server = await startTestServer((_req, res) => {
      const status = statuses.shift() ?? 200;
      if (status === 200) sendJson(res, { ok: true });
      else res.writeHead(status, { "retry-after": "0" }).end();
    });
    servers.push(server);
    const { sink, counts } = countingSink();

    await getJson(`${server.url}/search`, { minTimeoutMs: 1, maxTimeoutMs: 2, metrics: sink });

    expect(Object.fromEntries(counts)).toEqual({
      HubResponses429: 1,
      HubResponses5xx: 1,
      HubResponses2xx: 1,
      "HubErrors:HubThrottledError": 1,
      "HubErrors:HubUnavailableError": 1,
    });
  });

  it("counts the last attempt too when the retries run out", async () => {
    const server = await startTestServer((_req, res) => {
      res.writeHead(429).end();
    });
    servers.push(server);
    const { sink, counts } = countingSink();

    await expect(
      getJson(`${server.url}/search`, { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2, metrics: sink }),
    ).rejects.toThrow(HubThrottledError);

    expect(Object.fromEntries(counts)).toEqual({ HubResponses429: 3, "HubErrors:HubThrottledError": 3 });
  });
});
