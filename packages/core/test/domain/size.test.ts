import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/domain/errors";
import { formatBytes, parseByteSize, parseSize } from "../../src/domain/size";

describe("parseByteSize", () => {
  it("reads one size and refuses a range, naming the flag it was given", () => {
    expect(parseByteSize("256MiB")).toBe(256 * 1024 * 1024);
    expect(parseByteSize("1GiB", "--sizes")).toBe(1024 ** 3);
    expect(() => parseByteSize("1MiB-2MiB", "--sizes")).toThrow(/^--sizes: 1MiB-2MiB is not a size/);
    expect(() => parseByteSize("0", "--sizes")).toThrow(InvalidInputError);
  });
});

describe("parseSize", () => {
  it("names the field of a bad size without the flag's dashes", () => {
    const error = (() => {
      try {
        parseSize("8MiB-2MiB", "--size");
      } catch (caught) {
        return caught as InvalidInputError;
      }
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error?.message).toBe("--size: 8MiB-2MiB: min above max");
    expect(error?.field).toBe("size");
  });
});

describe("formatBytes", () => {
  it("keeps whole bytes below a KiB and one decimal above", () => {
    expect([formatBytes(0), formatBytes(1023), formatBytes(1024), formatBytes(256 * 1024 ** 2)]).toEqual([
      "0 B",
      "1023 B",
      "1.0 KiB",
      "256.0 MiB",
    ]);
  });
});
