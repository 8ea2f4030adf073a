import type { Entry } from "./entry-data";
import type { Zip64End } from "./records";

// What a zip check holds between bytes, and what it reports.

/** The check a product's archive failed. */
export type ZipCheckName =
  | "structure"
  | "method"
  | "crc"
  | "size"
  | "directory"
  | "end"
  | "truncated"
  | "length"
  | "name"
  | "safe";

/** The first check an archive failed: which, at which entry (when one), where, and what was seen. */
export interface ZipFailure {
  check: ZipCheckName;
  entry?: string;
  offset: number;
  detail: string;
}

export type Section = "local" | "central" | "zip64Locator" | "end" | "done";

/** Everything a checkpoint keeps: JSON, plus the partial record, held-back bytes and digest state. */
export interface State {
  version: 1;
  position: number;
  section: Section;
  /** Inside an entry's data, or its data descriptor. */
  inEntry?: "data" | "descriptor";
  entry?: Entry;
  entries: number;
  folder?: string;
  manifest: boolean;
  /** SHA-256 (hex) of the local entries' records, once the central directory begins. */
  localDigest?: string;
  centralStart?: number;
  centralEntries: number;
  zip64End?: Zip64End;
  failure?: ZipFailure;
}
