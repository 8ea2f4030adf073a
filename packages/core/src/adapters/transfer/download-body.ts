import { InvalidHubDataError } from "../../domain/errors";
import type { DownloadStream } from "../hub/hub";
import type { TransferInput } from "./options";
import type { PartPipeline } from "./parts";
import { type ThroughputFloor, watchThroughputFloor } from "./throughput-floor";

/** Raised internally when a download body errors, closes early or ends short; never escapes transferGranule. */
export class BodyBrokenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BodyBrokenError";
  }
}

/**
 * Raised internally when the body cannot be appended to what we hold (a Content-Range starting
 * elsewhere than asked): the attempt starts over on a new upload. Never escapes transferGranule.
 */
export class RestartNeededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestartNeededError";
  }
}

/** Raised internally when a body's framing contradicts itself or the catalogue; see HubFramingError. */
export class FramingMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FramingMismatchError";
  }
}

/**
 * Opens the body at `offset` (where the consumed bytes end) and checks its framing against the
 * catalogue size. A body from byte 0 (the hub ignored Range) is returned for the caller to restart
 * onto; one whose Content-Range starts elsewhere than asked throws RestartNeededError.
 */
export async function openBody(
  input: TransferInput,
  offset: number,
  signal: AbortSignal | undefined,
): Promise<DownloadStream> {
  const { granuleId, expectedSizeBytes } = input;
  const tolerance = input.sizeToleranceBytes ?? 0;
  if (expectedSizeBytes !== undefined && offset > 0 && offset >= expectedSizeBytes + tolerance) {
    // Every byte the catalogue promised is here and the body still broke: asking for a Range at or
    // past the product's end only earns a 416. The framing lied (Content-Length over-long).
    throw new FramingMismatchError(
      `body of ${granuleId} broke after all ${offset} bytes of its ${expectedSizeBytes}-byte product had arrived`,
    );
  }
  const download = await input.hub.openDownload(granuleId, { offset, signal });
  try {
    if (download.offset !== offset && download.offset !== 0) {
      throw new RestartNeededError(
        `hub answered a download of ${granuleId} from byte ${offset} with a body from byte ${download.offset}`,
      );
    }
    checkFraming(input, download, download.offset);
    return download;
  } catch (error) {
    download.body.destroy();
    throw error;
  }
}

/** Content-Length and Content-Range's complete length must agree with the catalogue's size. */
function checkFraming(input: TransferInput, download: DownloadStream, start: number): void {
  const { granuleId, expectedSizeBytes } = input;
  if (expectedSizeBytes === undefined) return;
  const tolerance = input.sizeToleranceBytes ?? 0;
  const { contentLength, totalLength } = download;
  if (contentLength !== undefined && Math.abs(start + contentLength - expectedSizeBytes) > tolerance) {
    throw new FramingMismatchError(
      `hub framed bytes ${start}.. of ${granuleId} with Content-Length ${contentLength}, ending at ${start + contentLength} where the catalogue's ${expectedSizeBytes}-byte product ends`,
    );
  }
  if (totalLength !== undefined && Math.abs(totalLength - expectedSizeBytes) > tolerance) {
    throw new FramingMismatchError(
      `hub's Content-Range names ${totalLength} bytes for ${granuleId}, the catalogue ${expectedSizeBytes}`,
    );
  }
}

/** Where a body's bytes go, and how fast they must come. */
export interface BodySink extends ThroughputFloor {
  parts: Pick<PartPipeline, "consumedBytes" | "write">;
  signal?: AbortSignal;
  /** Called for every chunk read from the hub. */
  fetched(length: number): void;
}

/** Reads one body into parts; the async iterator only pulls while write() is not waiting for a slot (backpressure). */
export async function readBody(
  input: TransferInput,
  download: DownloadStream,
  sink: BodySink,
): Promise<void> {
  const { body, contentLength } = download;
  const { signal, parts } = sink;
  const stop = () => body.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
  signal?.addEventListener("abort", stop, { once: true });
  let received = 0;
  const { granuleId, expectedSizeBytes } = input;
  const limit =
    expectedSizeBytes === undefined ? undefined : expectedSizeBytes + (input.sizeToleranceBytes ?? 0);
  const floor = watchThroughputFloor(body, granuleId, sink);
  try {
    signal?.throwIfAborted();
    const chunks = body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<unknown>;
      floor.waiting();
      try {
        next = await chunks.next();
      } catch (error) {
        throw new BodyBrokenError(`body of ${granuleId} broke after ${received} bytes`, {
          cause: floor.slow ?? error,
        });
      } finally {
        floor.arrived();
      }
      if (next.done) break;
      const chunk = next.value;
      if (!(chunk instanceof Uint8Array)) {
        throw new InvalidHubDataError(`download body of ${granuleId} yields non-binary chunks`, {
          granuleId,
        });
      }
      received += chunk.length;
      sink.fetched(chunk.length);
      if (contentLength !== undefined && received > contentLength) {
        throw new FramingMismatchError(
          `body of ${granuleId} ran past its Content-Length of ${contentLength} bytes`,
        );
      }
      if (limit !== undefined && parts.consumedBytes + chunk.length > limit) {
        // Trailing garbage (or a body that never ends): never upload a byte the product cannot have.
        throw new FramingMismatchError(
          `body of ${granuleId} ran past the catalogue's ${expectedSizeBytes}-byte product`,
        );
      }
      floor.count(chunk.length);
      if (floor.slow !== undefined) {
        throw new BodyBrokenError(`body of ${granuleId} is under the throughput floor`, {
          cause: floor.slow,
        });
      }
      await parts.write(chunk);
    }
  } finally {
    floor.stop();
    signal?.removeEventListener("abort", stop);
    body.destroy();
  }
  if (contentLength !== undefined && received < contentLength) {
    throw new BodyBrokenError(`body of ${granuleId} ended after ${received} of ${contentLength} bytes`);
  }
  if (
    expectedSizeBytes !== undefined &&
    parts.consumedBytes < expectedSizeBytes - (input.sizeToleranceBytes ?? 0)
  ) {
    // A body that ends cleanly short of the product: its framing (a chunked body, a short
    // Content-Length) hid the cut. Resume from here rather than hash a truncated product.
    throw new BodyBrokenError(
      `body of ${granuleId} ended at byte ${parts.consumedBytes} of a ${expectedSizeBytes}-byte product`,
    );
  }
}
