import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { HubAnswerTooLargeError } from "../../domain/errors";

/**
 * Reads a response body as UTF-8 text, refusing it once it passes `maxBytes`: up front when its
 * Content-Length says so (and it is not compressed), else as soon as the bytes read cross the cap,
 * so an endless body costs the cap in memory and never more.
 * @throws HubAnswerTooLargeError; the stream's own error otherwise.
 */
export async function readCapped(
  body: Readable,
  headers: IncomingHttpHeaders,
  where: string,
  maxBytes: number,
): Promise<string> {
  const declared = parseContentLength(headers["content-length"]);
  const encoded = headers["content-encoding"] !== undefined && headers["content-encoding"] !== "identity";
  const tooLarge = (what: string) =>
    new HubAnswerTooLargeError(`GET ${where} answered ${what}, over the cap of ${maxBytes} bytes`, {
      url: where,
      maxBytes,
    });
  if (!encoded && declared !== undefined && declared > maxBytes) {
    body.destroy();
    throw tooLarge(`a body of ${declared} bytes (Content-Length)`);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    length += bytes.length;
    if (length > maxBytes) {
      body.destroy();
      throw tooLarge(`more than ${maxBytes} bytes`);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, length).toString("utf8");
}

export function parseContentLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** `bytes <first>-<last>/<total|*>` → start and (when given) the complete length. */
export function parseContentRange(value: string | undefined): { start: number; total?: number } | undefined {
  const match = value === undefined ? null : /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value.trim());
  if (match?.[1] === undefined) return undefined;
  const total = match[2] === undefined || match[2] === "*" ? undefined : Number(match[2]);
  return { start: Number(match[1]), ...(total !== undefined && { total }) };
}
