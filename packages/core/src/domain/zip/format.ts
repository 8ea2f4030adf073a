// The zip records a streaming check reads (APPNOTE 6.3.x, sections 4.3 and 4.5): signatures, fixed
// sizes and the field readers. Offsets are relative to a record's signature.

export const SIGNATURE = {
  local: 0x04034b50,
  central: 0x02014b50,
  descriptor: 0x08074b50,
  zip64End: 0x06064b50,
  zip64Locator: 0x07064b50,
  end: 0x06054b50,
} as const;

/** Fixed parts of the records, before their variable-length fields. */
export const FIXED = {
  local: 30,
  central: 46,
  zip64End: 56,
  zip64Locator: 20,
  end: 22,
} as const;

/** The value a 16- or 32-bit field holds when the real one is in a Zip64 extra field. */
export const ZIP64_16 = 0xffff;
export const ZIP64_32 = 0xffffffff;
const ZIP64_EXTRA_ID = 0x0001;

/** General purpose flag bits the check reads. */
export const FLAG = { encrypted: 0x1, descriptor: 0x8 } as const;
export const METHOD_STORED = 0;

/** The signature bytes of a data descriptor, to search for in the body of a STORED entry of unknown size. */
export const DESCRIPTOR_SIGNATURE = Buffer.from([0x50, 0x4b, 0x07, 0x08]);

/**
 * Longest name plus extra fields a header may carry here. The format allows 2 × 64 KiB; a SAFE's paths
 * are under 300 bytes, and the bound keeps a checkpoint's partial header small.
 */
export const MAX_VARIABLE_BYTES = 4096;

/** Reads a little-endian unsigned 64-bit field as a number, or undefined past 2^53 (no product is that large). */
export function readUint64(bytes: Buffer, offset: number): number | undefined {
  const value = bytes.readBigUInt64LE(offset);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
}

/**
 * The Zip64 extended information extra field's values, in the order the format lists them, for the
 * fields whose 32-bit value is ZIP64_32 (APPNOTE 4.5.3); undefined when the field is absent.
 */
export function zip64Values(extra: Buffer, wanted: number): (number | undefined)[] | undefined {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA_ID) {
      const end = Math.min(at + 4 + size, extra.length);
      const values: (number | undefined)[] = [];
      for (let p = at + 4; p + 8 <= end && values.length < wanted; p += 8) values.push(readUint64(extra, p));
      return values;
    }
    at += 4 + size;
  }
  return undefined;
}

/**
 * Why a name cannot be unpacked safely (absolute, `..`, a backslash or a NUL), or undefined. HLS unpacks
 * with `unzip`, which strips such names with a warning or writes outside the folder it expects.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name === "") return "is empty";
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) return "is absolute";
  if (name.includes("\\")) return "contains a backslash";
  if (name.includes("\0")) return "contains a NUL";
  if (name.split("/").includes("..")) return "contains ..";
  return undefined;
}

/**
 * The top-level folder `name` lies in, when it is a safe name inside the one `<name>.SAFE` folder
 * (`expected` when given; `current`, the folder of the entries before it), or the check it fails.
 */
export function placeInSafe(
  name: string,
  expected: string | undefined,
  current: string | undefined,
): string | { check: "name" | "safe"; detail: string } {
  const unsafe = unsafeNameReason(name);
  if (unsafe !== undefined) return { check: "name", detail: `the name ${unsafe}` };
  const slash = name.indexOf("/");
  if (slash <= 0) return { check: "safe", detail: "a file outside the top-level .SAFE folder" };
  const top = name.slice(0, slash);
  if (current !== undefined && top !== current) {
    return { check: "safe", detail: `a second top-level folder beside ${current}` };
  }
  if (top !== (expected ?? top) || !top.endsWith(".SAFE")) {
    return { check: "safe", detail: `top-level folder ${top} is not ${expected ?? "<name>.SAFE"}` };
  }
  return top;
}
