import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Catalogue, createCatalogue, MOCK_PLATFORMS } from "@hls-s2/mock-hub";
import { DYNAMODB_LOCAL_DIR } from "../aws";
import {
  DEFAULT_GRANULES_PER_DAY,
  DEFAULT_PRODUCT_SIZE,
  DEFAULT_SEED,
  type ProductSize,
  type RunLocalOptions,
} from "./options";

/** The catalogue parameters kept in the data folder so a rerun serves the same products. */
export interface CatalogueParams {
  seed: string | number;
  granulesPerDay: number;
  productSize: ProductSize;
}

const PARAMS_FILE = "catalogue.json";
/** The synthesized workflow, reused while the stacks and core are unchanged (see workflow.ts). */
export const SYNTH_CACHE_FILE = "synthesized-workflow.json";

/**
 * The mock catalogue a run with these parameters serves for a window (deterministic), with the
 * duplicate-name fault's second releases when `duplicateNames` (a fraction) is given.
 */
export function buildCatalogue(params: CatalogueParams, days: string[], duplicateNames?: number): Catalogue {
  return createCatalogue({
    seed: params.seed,
    days,
    platforms: [...MOCK_PLATFORMS],
    granulesPerDay: params.granulesPerDay,
    sizeBytes: params.productSize,
    ...(duplicateNames !== undefined && { duplicateNames }),
  });
}

/** Removes only what a local run writes, so a mistyped --data-dir cannot wipe an unrelated folder. */
export async function cleanDataDir(dataDir: string): Promise<void> {
  for (const name of ["dynamodb", DYNAMODB_LOCAL_DIR, "s3", "executions", PARAMS_FILE]) {
    await rm(join(dataDir, name), { recursive: true, force: true });
  }
}

/** The catalogue parameters of a run: its options, else the folder's saved ones, else the defaults; saved for the mock hub. */
export async function resolveCatalogueParams(
  dataDir: string,
  options: RunLocalOptions,
): Promise<CatalogueParams> {
  let saved: Partial<CatalogueParams> = {};
  try {
    saved = JSON.parse(await readFile(join(dataDir, PARAMS_FILE), "utf8")) as Partial<CatalogueParams>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const params: CatalogueParams = {
    seed: options.seed ?? saved.seed ?? DEFAULT_SEED,
    granulesPerDay: options.granulesPerDay ?? saved.granulesPerDay ?? DEFAULT_GRANULES_PER_DAY,
    productSize: options.productSize ?? saved.productSize ?? DEFAULT_PRODUCT_SIZE,
  };
  if (options.hub === undefined) {
    await writeFile(join(dataDir, PARAMS_FILE), `${JSON.stringify(params, null, 2)}\n`);
  }
  return params;
}
