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
});
