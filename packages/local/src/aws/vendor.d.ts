// Minimal typings for the two embedded servers, which ship none: only what embedded.ts touches.

declare module "dynalite" {
  import type { Server } from "node:http";

  export interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }
  function dynalite(options?: DynaliteOptions): Server;
  export default dynalite;
}

declare module "s3rver" {
  import type { IncomingMessage, Server } from "node:http";
  import type { AddressInfo } from "node:net";

  export interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: string[] }[];
  }
  export type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void;
  export interface KoaContext {
    method: string;
    path: string;
    query: Record<string, string | string[] | undefined>;
    querystring: string;
    status: number;
    body: unknown;
    type: string;
    store: S3rverStore;
    /** The raw request; s3rver's controllers read bodies from it. */
    req: IncomingMessage;
    /** A request header, "" when absent (Koa's ctx.get). */
    get(field: string): string;
    set(field: string, value: string): void;
  }
  export interface S3rverStore {
    existsObject(bucket: string, key: string): Promise<boolean>;
    listObjects(
      bucket: string,
      options: Record<string, unknown>,
    ): Promise<{ isTruncated: boolean; objects: { key: string }[]; commonPrefixes: string[] }>;
    putPart(
      bucket: string,
      uploadId: string,
      partNumber: string | number,
      content: unknown,
    ): Promise<{ size: number; md5: string }>;
  }
  class S3rver {
    constructor(options: S3rverOptions);
    middleware: KoaMiddleware[];
    httpServer?: Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
  export default S3rver;
}
