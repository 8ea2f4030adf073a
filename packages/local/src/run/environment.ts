import type { EmbeddedStores } from "../aws";
import { type SynthesizedWorkflow, tileAllowListPath } from "../aws";

/**
 * The environment a synthesized function has, pointed at the embedded stores and the hub: secret ids
 * are dropped (local credentials are passed in directly) and so is the Lambda-only NODE_OPTIONS.
 * The stack's tile allow-list is read from the repository, unless `allTiles`.
 */
export function lambdaEnvironment(
  workflow: SynthesizedWorkflow,
  stores: EmbeddedStores,
  hub: { kind: "dhus" | "cdse"; url: string; tokenUrl?: string; downloadUrl?: string },
  options: { allTiles?: boolean } = {},
): Record<string, string> {
  const env = { ...workflow.environment };
  delete env["HUB_SECRET_ID"];
  delete env["DOWNLOAD_HUB_SECRET_ID"];
  delete env["NODE_OPTIONS"];
  // The env is every function's at once (one local runtime serves them all): it requires the whole workflow's keys.
  delete env["FUNCTION_NAME"];
  // The fetch function's bundled file name: locally the list is read from the repository (below).
  delete env["TILE_ALLOW_LIST_FILE"];
  const tiles = options.allTiles === true ? undefined : tileAllowListPath(workflow);
  return {
    ...env,
    ...(tiles !== undefined && { TILE_ALLOW_LIST_FILE: tiles }),
    TABLE_NAME: stores.tableName,
    BUCKET_NAME: stores.bucketName,
    WORK_BUCKET_NAME: stores.workBucketName,
    HUB_KIND: hub.kind,
    HUB_URL: hub.url,
    ...(hub.tokenUrl !== undefined && { CDSE_TOKEN_URL: hub.tokenUrl }),
    ...(hub.downloadUrl !== undefined && { DOWNLOAD_HUB_URL: hub.downloadUrl }),
  };
}
