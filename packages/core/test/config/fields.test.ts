import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { camelCase, camelFields, flagField, integerField, platformsField } from "../../src/config/fields";

describe("configuration fields", () => {
  it("names a field after its environment key", () => {
    expect(camelCase("DOWNLOAD_MIN_BYTES_PER_SECOND")).toBe("downloadMinBytesPerSecond");
    expect(camelCase("PART_SIZE_MIB")).toBe("partSizeMib");
    expect(camelFields({ HUB_URL: "https://hub", DOWNLOAD_HUB_URL: undefined })).toEqual({
      hubUrl: "https://hub",
    });
  });

  it("parses flags, bounded integers and platform lists the same way for both schemas", () => {
    expect(v.parse(flagField, "TRUE")).toBe(true);
    expect(v.parse(flagField, "0")).toBe(false);
    expect(v.safeParse(integerField(1, 30), "31").issues?.[0]?.message).toBe("must be at most 30");
    expect(v.safeParse(integerField(1, 30), "2.5").issues?.[0]?.message).toBe("must be an integer");
    expect(v.parse(platformsField, "S2B, S2A,S2B")).toEqual(["S2B", "S2A"]);
  });
});
