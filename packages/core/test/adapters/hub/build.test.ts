import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { buildHub } from "../../../src/adapters/hub/build";
import { ConfigError } from "../../../src/domain/errors";

const wiring = {
  credentials: { username: "user", password: "secret" },
  filterRules: { platforms: ["S2A" as const], maxAcquisitionAgeDays: 30 },
};
const config = {
  hubUrl: "http://127.0.0.1:9",
  searchPageSize: 100,
  hubMaxJsonBytes: 1_048_576,
};

describe("buildHub", () => {
  it("builds the hub of the configured kind", () => {
    expect(buildHub({ ...config, hubKind: "dhus" }, wiring).kind).toBe("dhus");
    expect(
      buildHub(
        { ...config, hubKind: "cdse", downloadHubUrl: "http://127.0.0.1:10", searchPageSize: 1000 },
        wiring,
      ).kind,
    ).toBe("cdse");
  });

  it("refuses CDSE without its download host, naming DOWNLOAD_HUB_URL", () => {
    expect(() => buildHub({ ...config, hubKind: "cdse" }, wiring)).toThrow(ConfigError);
    expect(() => buildHub({ ...config, hubKind: "cdse" }, wiring)).toThrow(/DOWNLOAD_HUB_URL/);
  });

  it("backs off by the wiring's retry tuning, where given", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const hub = buildHub(
        { ...config, hubUrl, hubKind: "dhus" },
        { ...wiring, retryTuning: { minTimeoutMs: 1, maxTimeoutMs: 2 } },
      );
      const started = Date.now();
      await expect(hub.getChecksum("a1b2")).rejects.toMatchObject({ name: "HubUnavailableError" });
      // The first attempt and 4 retries; the default backoff (0.5 s doubled, jittered) sleeps ≥ 7.5 s.
      expect(requests).toBe(5);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      server.close();
    }
  });
});
