import { createSHA256, type IHasher } from "hash-wasm";
import { type DataFed, type Entry, feedKnown, readDescriptor, searchDescriptor } from "./entry-data";
import { FLAG, METHOD_STORED, placeInSafe, SIGNATURE } from "./format";
import {
  type EntryRecord,
  readCentralHeader,
  readEndRecord,
  readLocalHeader,
  readLocator,
  readZip64End,
  recordBytes,
  recordLength,
} from "./records";
import type { Section, State, ZipCheckName, ZipFailure } from "./state";

export type { ZipCheckName, ZipFailure } from "./state";

/** Records kept in memory to name the entry a central directory contradicts; past this, the digest alone. */
const MAX_KEPT_RECORDS = 10_000;

/**
 * A streaming check of a product's zip archive, fed the bytes the MD5 sees, in order, once. It checks
 * the local headers in order, every STORED entry's CRC-32 and size (data descriptors and Zip64
 * included), the central directory against what streamed, the end records, and the SAFE shape HLS
 * unpacks: one top-level `<name>.SAFE/` with a `manifest.safe`, no absolute or `..` names. Memory and
 * saved state do not grow with the product: the central directory is compared through a running
 * SHA-256 of the per-entry records (name, offset, CRC, size), not a list of them.
 */
export class ZipCheck {
  private state: State = ZipCheck.initial();
  private pending: Buffer = Buffer.alloc(0);
  private tail: Buffer = Buffer.alloc(0);
  /** This process's records (undefined after a restore: the first entries were seen by another). */
  private records: EntryRecord[] | undefined = [];
  private base = 0;

  private constructor(
    private readonly digest: IHasher,
    private readonly folder: string | undefined,
  ) {
    digest.init();
  }

  /** A check for a product whose top-level folder must be `folder` (`<name>.SAFE`), when given. */
  static async create(folder?: string): Promise<ZipCheck> {
    return new ZipCheck(await createSHA256(), folder);
  }

  private static initial(): State {
    return { version: 1, position: 0, section: "local", entries: 0, manifest: false, centralEntries: 0 };
  }

  /** Bytes checked so far. */
  get position(): number {
    return this.state.position;
  }

  /** The first failure, as soon as one is seen. */
  get failure(): ZipFailure | undefined {
    return this.state.failure;
  }

  /** Starts again from byte 0. */
  reset(): void {
    this.state = ZipCheck.initial();
    this.pending = Buffer.alloc(0);
    this.tail = Buffer.alloc(0);
    this.records = [];
    this.digest.init();
  }

  /** The state after the bytes seen so far, for a checkpoint (a few hundred bytes of JSON). */
  save(): string {
    return JSON.stringify({
      ...this.state,
      pending: this.pending.toString("base64"),
      tail: this.tail.toString("base64"),
      digest: Buffer.from(this.digest.save()).toString("base64"),
    });
  }

  /** Continues from a saved state; false (and reset) when it is unusable. */
  restore(saved: string): boolean {
    try {
      const parsed = JSON.parse(saved) as State & { pending: string; tail: string; digest: string };
      if (parsed.version !== 1 || !Number.isSafeInteger(parsed.position)) throw new Error("unknown state");
      this.digest.load(Buffer.from(parsed.digest, "base64"));
      const { pending, tail, digest: _digest, ...state } = parsed;
      this.state = state;
      this.pending = Buffer.from(pending, "base64");
      this.tail = Buffer.from(tail, "base64");
      this.records = state.position === 0 ? [] : undefined;
      return true;
    } catch {
      this.reset();
      return false;
    }
  }

  /** Checks the next bytes of the archive. A failure is kept (see `failure`); later bytes are only counted. */
  update(chunk: Uint8Array): void {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.base = this.state.position;
    let at = 0;
    while (at < bytes.length && this.state.failure === undefined) {
      const { entry, inEntry } = this.state;
      if (entry !== undefined && inEntry === "data") {
        const fed =
          entry.declaredSize === undefined
            ? searchDescriptor(entry, this.tail, bytes, at)
            : feedKnown(entry, bytes, at);
        at = this.fed(entry, fed);
      } else if (this.state.section === "done") {
        this.fail("end", this.base + at, "bytes follow the end of central directory record");
      } else {
        at = this.record(bytes, at);
      }
    }
    this.state.position = this.base + bytes.length;
  }

  /**
   * The verdict once every byte has been fed: the first failure, or undefined for a sound archive of
   * `expectedLength` bytes (when given).
   */
  finish(expectedLength?: number): ZipFailure | undefined {
    const { state } = this;
    if (state.failure !== undefined) return state.failure;
    if (state.section !== "done") {
      const inside = state.entry !== undefined ? ` inside entry ${state.entry.name}` : "";
      this.fail(
        "truncated",
        state.position,
        `the archive ends${inside} before its end of central directory record`,
        state.entry?.name,
      );
    } else if (state.folder === undefined) {
      this.fail("safe", 0, "the archive has no entries");
    } else if (!state.manifest) {
      this.fail("safe", state.position, `${state.folder}/manifest.safe is missing`);
    } else if (expectedLength !== undefined && state.position !== expectedLength) {
      this.fail(
        "length",
        state.position,
        `the archive is ${state.position} bytes, the hub states ${expectedLength}`,
      );
    }
    return state.failure;
  }

  /** Keeps the first failure; returns nothing, so a check can `return this.fail(…)`. */
  private fail(check: ZipCheckName, offset: number, detail: string, entry?: string): undefined {
    this.state.failure ??= { check, offset, detail, ...(entry !== undefined && { entry }) };
    return undefined;
  }

  /** Collects one record (header, descriptor, end record) and handles it once whole. */
  private record(bytes: Buffer, at: number): number {
    const start = this.base + at - this.pending.length;
    for (;;) {
      const need = this.recordLength(start);
      if (need === undefined) return bytes.length;
      if (this.pending.length >= need) break;
      const take = Math.min(need - this.pending.length, bytes.length - at);
      this.pending = Buffer.concat([this.pending, bytes.subarray(at, at + take)]);
      at += take;
      if (this.pending.length < need) return at;
    }
    const record = this.pending;
    const offset = this.base + at - record.length;
    this.pending = Buffer.alloc(0);
    if (this.state.inEntry === "descriptor") this.descriptorRecord(record, offset);
    else this.handleRecord(record, offset);
    return at;
  }

  /** Bytes the record being collected needs to be whole, as far as its fixed part tells; undefined after a failure. */
  private recordLength(offset: number): number | undefined {
    const { entry, inEntry } = this.state;
    const need = recordLength(this.pending, inEntry === "descriptor", entry?.zip64 === true);
    if (typeof need === "number") return need;
    this.fail("structure", offset, need);
    return undefined;
  }

  private handleRecord(record: Buffer, offset: number): undefined {
    const signature = record.readUInt32LE(0);
    const { section } = this.state;
    const allowed: Record<number, Section[]> = {
      [SIGNATURE.local]: ["local"],
      [SIGNATURE.central]: ["local", "central"],
      [SIGNATURE.zip64End]: ["local", "central"],
      [SIGNATURE.zip64Locator]: ["zip64Locator"],
      [SIGNATURE.end]: ["local", "central", "end"],
    };
    if (!(allowed[signature] ?? []).includes(section)) {
      this.fail(
        "structure",
        offset,
        `record 0x${signature.toString(16)} out of order (in the ${section} section)`,
      );
      return;
    }
    if (signature === SIGNATURE.local) this.localHeader(record, offset);
    else {
      if (section === "local") this.beginCentral(offset);
      if (signature === SIGNATURE.central) this.centralHeader(record, offset);
      else if (signature === SIGNATURE.zip64End) this.zip64End(record, offset);
      else if (signature === SIGNATURE.zip64Locator) this.zip64Locator(record, offset);
      else this.endRecord(record, offset);
    }
  }

  private localHeader(record: Buffer, offset: number): undefined {
    const header = readLocalHeader(record);
    if (typeof header === "string") return this.fail("structure", offset, header);
    const { name, flags, method, compressed, uncompressed } = header;
    // CDSE serves "zip format without compression": a compressed entry is an archive we were not promised.
    if ((flags & FLAG.encrypted) !== 0) return this.fail("method", offset, "the entry is encrypted", name);
    if (method !== METHOD_STORED) {
      const label = method === 8 ? " (DEFLATED)" : "";
      const detail = `compression method ${method}${label}; only STORED entries are checked`;
      return this.fail("method", offset, detail, name);
    }
    if (!this.acceptName(name, offset)) return;
    const descriptor = (flags & FLAG.descriptor) !== 0;
    // A streaming writer (bit 3) may leave CRC and sizes zero in the local header: the data descriptor
    // after the data says them, so the data's end is found by searching for that descriptor.
    const unknown = descriptor && compressed === 0 && uncompressed === 0;
    if (!unknown && (compressed === undefined || compressed !== uncompressed)) {
      const detail = `a STORED entry of ${compressed} bytes claims ${uncompressed} unpacked`;
      return this.fail("size", offset, detail, name);
    }
    const entry: Entry = {
      name,
      offset,
      declaredCrc: unknown ? 0 : header.crc,
      declaredSize: unknown ? undefined : compressed,
      descriptor,
      zip64: header.zip64,
      crc: 0,
      length: 0,
    };
    this.state.entry = entry;
    this.state.inEntry = "data";
    if (compressed === 0 && !unknown) this.dataEnded(entry);
  }

  /** Checks a name's safety and the SAFE shape so far (one top-level folder, the product's). */
  private acceptName(name: string, offset: number): boolean {
    const { state } = this;
    const verdict = placeInSafe(name, this.folder, state.folder);
    if (typeof verdict !== "string") return this.fail(verdict.check, offset, verdict.detail, name) ?? false;
    state.folder = verdict;
    if (name === `${verdict}/manifest.safe`) state.manifest = true;
    return true;
  }

  /** Handles what the entry's data feed found: the data's end, then its descriptor or the entry's end. */
  private fed(entry: Entry, fed: DataFed): number {
    this.tail = fed.tail;
    if (!fed.ended) return fed.at;
    if (entry.declaredSize === undefined) this.entryEnded(entry, entry.crc, entry.length);
    else this.dataEnded(entry);
    return fed.at;
  }

  private dataEnded(entry: Entry): undefined {
    if (entry.descriptor) this.state.inEntry = "descriptor";
    else this.entryEnded(entry, entry.declaredCrc, entry.length);
  }

  /** A data descriptor after data of known size: it must repeat the CRC and size the data has. */
  private descriptorRecord(record: Buffer, offset: number): undefined {
    const entry = this.state.entry!;
    const { crc, sizes } = readDescriptor(
      entry,
      record,
      record.readUInt32LE(0) === SIGNATURE.descriptor ? 4 : 0,
    );
    if (sizes[0] !== entry.length || sizes[1] !== entry.length) {
      this.fail(
        "size",
        offset,
        `its data descriptor says ${sizes.join("/")} bytes, the data has ${entry.length}`,
        entry.name,
      );
    } else if (entry.declaredCrc !== 0 && entry.declaredCrc !== crc) {
      this.fail(
        "crc",
        offset,
        `its data descriptor's CRC-32 ${hex(crc)} differs from its header's ${hex(entry.declaredCrc)}`,
        entry.name,
      );
    } else {
      this.entryEnded(entry, crc, entry.length);
    }
  }

  private entryEnded(entry: Entry, crc: number, size: number): undefined {
    this.state.entry = undefined;
    this.state.inEntry = undefined;
    if (entry.crc !== crc) {
      return this.fail(
        "crc",
        entry.offset,
        `CRC-32 ${hex(entry.crc)} of its ${entry.length} bytes differs from the declared ${hex(crc)}`,
        entry.name,
      );
    }
    const record = { name: entry.name, offset: entry.offset, crc, size };
    this.digest.update(recordBytes(record));
    if (this.records !== undefined && this.records.length < MAX_KEPT_RECORDS) this.records.push(record);
    this.state.entries += 1;
  }

  private beginCentral(offset: number): undefined {
    this.state.localDigest = this.digest.digest("hex");
    this.digest.init();
    this.state.centralStart = offset;
    this.state.section = "central";
  }

  private centralHeader(record: Buffer, offset: number): undefined {
    const read = readCentralHeader(record);
    const index = this.state.centralEntries;
    this.state.centralEntries += 1;
    if (!("listed" in read)) return this.fail("directory", offset, read.detail, read.name);
    const { listed } = read;
    if (index >= this.state.entries) {
      const detail = `the central directory lists more than the ${this.state.entries} entries that streamed`;
      return this.fail("directory", offset, detail, listed.name);
    }
    const streamed = this.records?.[index];
    for (const field of ["name", "offset", "crc", "size"] as const) {
      if (streamed !== undefined && streamed[field] !== listed[field]) {
        const detail = `central directory entry ${index + 1} says ${field} ${listed[field]}, its local header ${streamed[field]}`;
        return this.fail("directory", offset, detail, streamed.name);
      }
    }
    this.digest.update(recordBytes(listed));
  }

  /** The central directory has ended: it must list exactly what streamed (by digest when resumed). */
  private centralEnded(offset: number): boolean {
    const { state } = this;
    if (state.section !== "central") return true;
    state.section = "end";
    const digest = this.digest.digest("hex");
    this.digest.init();
    if (state.centralEntries !== state.entries || digest !== state.localDigest) {
      this.fail(
        "directory",
        offset,
        `the central directory (${state.centralEntries} entries) disagrees with the ${state.entries} local headers`,
      );
      return false;
    }
    return true;
  }

  private zip64End(record: Buffer, offset: number): undefined {
    if (!this.centralEnded(offset)) return;
    this.state.zip64End = readZip64End(record, offset);
    this.state.section = "zip64Locator";
  }

  private zip64Locator(record: Buffer, offset: number): undefined {
    if (readLocator(record) !== this.state.zip64End?.at) {
      return this.fail("end", offset, "the Zip64 locator does not point at the Zip64 end record");
    }
    this.state.section = "end";
  }

  private endRecord(record: Buffer, offset: number): undefined {
    if (!this.centralEnded(offset)) return;
    const { state } = this;
    const end = readEndRecord(record, state.zip64End);
    const start = state.centralStart ?? offset;
    const size = (state.zip64End?.at ?? offset) - start;
    const { centralEntries } = state;
    if (
      end.disks !== 0 ||
      end.entries !== centralEntries ||
      end.onDisk !== centralEntries ||
      end.offset !== start ||
      end.size !== size
    ) {
      const detail = `the end record says ${end.entries} entries, ${end.size} bytes at ${end.offset}; the directory streamed has ${centralEntries} entries, ${size} bytes at ${start}`;
      return this.fail("end", offset, detail);
    }
    state.section = "done";
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}
