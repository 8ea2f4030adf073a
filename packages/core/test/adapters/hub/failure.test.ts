import { describe, expect, it } from "vitest";
import { hubStatusError } from "../../../src/adapters/hub/failure";
import { GranuleGoneError, InvalidInputError } from "../../../src/domain/errors";

const where = "https://hub.example/odata/v1/Products";

describe("hubStatusError", () => {
  it.each([
    [401, "HubAuthError"],
    [403, "HubAuthError"],
    [429, "HubThrottledError"],
    [408, "HubUnavailableError"],
    [503, "HubUnavailableError"],
    [404, "InvalidHubDataError"],
    [418, "InvalidHubDataError"],
  ])("maps HTTP %i to %s", (status, name) => {
    expect(hubStatusError(status, { where })).toMatchObject({ name });
  });

  it("reads a 429's Retry-After and names the method and the hub's own words", () => {
    const error = hubStatusError(429, { method: "POST", where, retryAfter: ["7"], detail: "slow down" });
    expect(error).toMatchObject({ name: "HubThrottledError", retryAfterSeconds: 7, url: where });
    expect(error.message).toBe(`POST ${where} was throttled (HTTP 429, retry after 7 s): slow down`);
  });

  it("lets the caller say what a withdrawn product and any other refusal are", () => {
    const options = {
      where,
      goneError: (status: number) => new GranuleGoneError("g1", status),
      refusedError: (message: string) => new InvalidInputError(message),
    };
    expect(hubStatusError(410, options)).toMatchObject({ name: "GranuleGoneError", status: 410 });
    expect(hubStatusError(409, options)).toMatchObject({ name: "InvalidInputError" });
    expect(hubStatusError(404, { ...options, goneError: undefined })).toMatchObject({
      name: "InvalidInputError",
    });
  });
});
