import { TransferInterruptedError, TransferTooSlowError } from "../../domain/errors";
import { BodyBrokenError } from "./download-body";
import { isNoSuchUpload } from "./multipart-upload";

/**
 * What a transfer that keeps its upload throws: its signal's stop, a body that stayed too slow, or one
 * that kept breaking (or an upload S3 lost) become the retryable TransferInterruptedError (or
 * TransferTooSlowError) saying from which byte the next attempt resumes; anything else passes unchanged.
 */
export function resumableError(
  error: unknown,
  context: {
    granuleId: string;
    key: string;
    maxResumes: number;
    signal: AbortSignal | undefined;
    bytesTransferred: number;
  },
): unknown {
  const { granuleId, key, maxResumes, signal } = context;
  const resumable = { granuleId, bytesTransferred: context.bytesTransferred };
  if (signal?.aborted) {
    return new TransferInterruptedError(
      `transfer of ${granuleId} to ${key} stopped by its signal; resumable from byte ${resumable.bytesTransferred}`,
      { cause: signal.reason, ...resumable },
    );
  }
  if (error instanceof BodyBrokenError && error.cause instanceof TransferTooSlowError) {
    return new TransferTooSlowError(
      `transfer of ${granuleId} to ${key} stayed under the throughput floor after ${maxResumes} resumes; resumable from byte ${resumable.bytesTransferred}`,
      { cause: error.cause, bytesPerSecond: error.cause.bytesPerSecond, ...resumable },
    );
  }
  if (error instanceof BodyBrokenError || isNoSuchUpload(error)) {
    return new TransferInterruptedError(
      `transfer of ${granuleId} to ${key} failed after ${maxResumes} resumes; resumable from byte ${resumable.bytesTransferred}`,
      { cause: error instanceof BodyBrokenError ? (error.cause ?? error) : error, ...resumable },
    );
  }
  return error;
}
