import type { KoaContext } from "s3rver";
import { type Next, S3Error } from "./s3rver-uploads";

// S3's conditional writes, which s3rver ignores (see s3-gaps.ts). The S3 API reference, PutObject and
// CompleteMultipartUpload, If-None-Match: "Uploads the object only if the object key name does not
// already exist in the bucket specified. Otherwise, Amazon S3 returns a 412 Precondition Failed error.
// If a conflicting operation occurs during the upload S3 returns a 409 ConditionalRequestConflict
// response. On a 409 failure you should retry the upload" (PutObject) / "re-initiate the multipart upload
// with CreateMultipartUpload and re-upload each part" (CompleteMultipartUpload).

/** 412: the key exists, so `If-None-Match: *` refused the write. */
function preconditionFailed(): Error {
  return new S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", {
    Condition: "If-None-Match",
  });
}

/** 409: another conditional write of the same key is in progress (s3rver's table has no such code). */
function conditionalRequestConflict(): Error {
  return Object.assign(
    new S3Error(
      "ConditionalRequestConflict",
      "A conflicting conditional operation is currently in progress against this resource. Please try again.",
    ),
    { status: 409, expose: true },
  );
}

/**
 * The conditional writes of one embedded store: a write with `If-None-Match: *` answers 412 when the
 * key exists, and 409 while another conditional write of the same key is running (two Completes of
 * different uploads of one key, or a PutObject during a Complete); a write without it is unchanged.
 */
export class ConditionalWrites {
  /** `<bucket>/<key>` of the conditional writes running now. */
  private readonly running = new Set<string>();

  /**
   * Runs `write` (which stores the object) under the request's condition.
   * @returns whether the request was conditional.
   */
  async guard(ctx: KoaContext, route: { bucket: string; key: string }, write: Next): Promise<void> {
    const condition = ctx.get("if-none-match");
    if (condition === "") return write();
    if (condition !== "*") {
      throw new S3Error(
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
        {
          Header: "If-None-Match",
        },
      );
    }
    const id = `${route.bucket}/${route.key}`;
    if (this.running.has(id)) throw conditionalRequestConflict();
    this.running.add(id);
    try {
      if (await ctx.store.existsObject(route.bucket, route.key)) throw preconditionFailed();
      await write();
    } finally {
      this.running.delete(id);
    }
  }
}
