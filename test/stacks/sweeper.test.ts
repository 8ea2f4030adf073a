import { beforeAll, describe, expect, it } from "vitest";
import { iamStatements } from "./helpers";
import { type SynthesizedApp, synthesizeApp } from "./synthesized";

let synthesized: SynthesizedApp;

beforeAll(async () => {
  synthesized = await synthesizeApp({ stage: "test" });
});

describe("the Summarize sweeper's grants", () => {
  it("may abort multipart uploads in the upload bucket and do nothing else there: no read, list or put", () => {
    const s3Actions = iamStatements(synthesized.templates.Workflow!)
      .filter(({ logicalId }) => logicalId.startsWith("SummarizeFunction"))
      .flatMap(({ statement }) => [statement.Action].flat())
      .filter((action) => action.startsWith("s3:"));
    expect(s3Actions).toEqual(["s3:AbortMultipartUpload"]);
  });
});
