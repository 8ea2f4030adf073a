import { type LoopbackProxy, type ProxiedRequest, startLoopbackProxy } from "./loopback-proxy";

/** A part upload as the proxy sees it: UploadPart (`PUT ?partNumber&uploadId`) or a one-part PutObject. */
export interface PartUpload {
  bucket: string;
  key: string;
  /** Absent for a PutObject (a product that fits in one part). */
  partNumber?: number;
  uploadId?: string;
  /** How many part uploads the proxy saw before this one, plus one. */
  ordinal: number;
}

export interface StalledS3 extends LoopbackProxy {
  /** The part uploads held without an answer, in arrival order. */
  readonly stalledParts: PartUpload[];
}

/**
 * A loopback proxy in front of the embedded S3 that holds the part uploads `select` picks: the request
 * is read whole and never answered, as a stalled connection to S3 would be. An S3 client without a
 * request timeout waits for good; `release()` resets the held connections.
 */
export async function stallS3Parts(
  target: string,
  select: (part: PartUpload) => boolean,
): Promise<StalledS3> {
  const stalledParts: PartUpload[] = [];
  let ordinal = 0;
  const proxy = await startLoopbackProxy({
    target,
    decide: (request) => {
      const part = partUploadOf(request, () => ++ordinal);
      if (part === undefined || !select(part)) return "forward";
      stalledParts.push(part);
      return "stall";
    },
  });
  return Object.assign(proxy, { stalledParts });
}

function partUploadOf(request: ProxiedRequest, next: () => number): PartUpload | undefined {
  if (request.method !== "PUT") return undefined;
  const url = new URL(request.url, "http://127.0.0.1");
  // Path style (the local clients use forcePathStyle): /<bucket>/<key>.
  const [, bucket, ...key] = url.pathname.split("/");
  if (bucket === undefined || key.length === 0 || request.headers["x-amz-copy-source"] !== undefined) {
    return undefined;
  }
  const partNumber = url.searchParams.get("partNumber");
  const uploadId = url.searchParams.get("uploadId");
  return {
    bucket,
    key: decodeURIComponent(key.join("/")),
    ...(partNumber !== null && { partNumber: Number(partNumber) }),
    ...(uploadId !== null && { uploadId }),
    ordinal: next(),
  };
}
