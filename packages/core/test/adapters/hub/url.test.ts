import { describe, expect, it } from "vitest";
import { hubBaseUrl } from "../../../src/adapters/hub/url";

describe("hubBaseUrl", () => {
  it("keeps origin and path without a trailing slash or a query", () => {
    expect(hubBaseUrl("https://hub.example/dhus///?q=1#top", "url")).toBe("https://hub.example/dhus");
    expect(hubBaseUrl("http://127.0.0.1:8080/", "url")).toBe("http://127.0.0.1:8080");
  });

  it.each([
    ["catalogue", "is not a URL"],
    ["ftp://hub.example", "must be http(s)"],
    ["https://user:secret@hub.example", "must not carry credentials"],
  ])("refuses %s, naming the field", (url, message) => {
    expect(() => hubBaseUrl(url, "catalogueUrl")).toThrow(
      expect.objectContaining({
        name: "InvalidInputError",
        field: "catalogueUrl",
        message: expect.stringContaining(message),
      }),
    );
  });
});
