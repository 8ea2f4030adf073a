import { beforeAll, describe, expect, it } from "vitest";
import { resourcesOfType } from "./helpers";
import { type SynthesizedApp, synthesizeApp } from "./synthesized";

/** Each function's memory, set from its measured peak (stacks/sizes.ts, bench/lambda.ts). */
const MEMORY_MB = {
  GenerateQueries: 128,
  FetchPage: 320,
  WriteManifest: 512,
  Download: 512,
  Summarize: 384,
  ReceivePush: 192,
  StartPushedDownloads: 128,
};

let prod: SynthesizedApp;

beforeAll(async () => {
  prod = await synthesizeApp({ stage: "prod", settings: { pushEnabled: true } });
});

/** Our functions of the app by name (logical id `<Name>Function…`), without CDK's and SST's own handlers. */
function functionsByName(): Map<string, Record<string, unknown>> {
  const found = new Map<string, Record<string, unknown>>();
  for (const template of Object.values(prod.templates)) {
    for (const [logicalId, resource] of resourcesOfType(template, "AWS::Lambda::Function")) {
      const name = /^([A-Za-z]+?)Function[0-9A-F]*$/.exec(logicalId)?.[1];
      if (name !== undefined && !logicalId.startsWith("CustomResourceHandler"))
        found.set(name, resource.Properties ?? {});
    }
  }
  return found;
}

describe("function sizes", () => {
  it("gives each function of prod its measured memory on arm64, and no function goes unsized", () => {
    const functions = functionsByName();

    expect([...functions.keys()].sort()).toEqual(Object.keys(MEMORY_MB).sort());
    for (const [name, properties] of functions) {
      expect({ name, memory: properties.MemorySize, architectures: properties.Architectures }).toEqual({
        name,
        memory: MEMORY_MB[name as keyof typeof MEMORY_MB],
        architectures: ["arm64"],
      });
    }
  });
});
