import { describe, expect, it } from "vitest";
import { type Asl, type AslState, adaptDefinition, flattenDefinitionString } from "../src/definition";
import { workflowDefinition } from "./helpers/definitions";

function processorOf(asl: Asl, mapState = "DownloadGranules"): Asl {
  return asl.States[mapState]!["ItemProcessor"] as Asl;
}

describe("flattenDefinitionString", () => {
  it("joins CDK's Fn::Join into JSON with placeholder ARNs for Fn::GetAtt and names for Ref", () => {
    const { definitionString } = workflowDefinition();
    const asl = JSON.parse(flattenDefinitionString(definitionString)) as Asl;
    const download = processorOf(asl).States["Download"] as AslState & {
      Parameters: { FunctionName: string };
    };
    expect(download.Parameters.FunctionName).toBe(
      "arn:aws:lambda:us-east-1:123456789012:function:DownloadFn",
    );
    expect(asl.States["DownloadGranules"]!["ItemReader"]).toMatchObject({
      Parameters: { Bucket: "local-WorkBucket1A2B3C" },
    });
  });

  it("resolves pseudo parameters to a fixed partition, region and account", () => {
    const text = flattenDefinitionString({
      "Fn::Join": [
        "",
        [
          "arn:",
          { Ref: "AWS::Partition" },
          ":states:",
          { Ref: "AWS::Region" },
          ":",
          { Ref: "AWS::AccountId" },
        ],
      ],
    });
    expect(text).toBe("arn:aws:states:us-east-1:123456789012");
  });

  it("rejects an intrinsic function it cannot flatten", () => {
    expect(() => flattenDefinitionString({ "Fn::Sub": "x" })).toThrow(
      /unsupported intrinsic function Fn::Sub/,
    );
  });
});

describe("adaptDefinition", () => {
  it("feeds the Distributed Map from the manifest's items instead of the ignored ItemReader", () => {
    const { definition } = adaptDefinition(workflowDefinition().definitionString);
    const map = definition.States["DownloadGranules"]!;
    expect(map["ItemsPath"]).toBe("$.manifest.items");
    expect(map).not.toHaveProperty("ItemReader");
    expect(map).not.toHaveProperty("ResultWriter");
    expect(map).not.toHaveProperty("ToleratedFailurePercentage");
  });

  it("replaces the item processor's Fail state after RecordFailure with a Succeed and reports the tolerance", () => {
    const { definition, distributedMaps } = adaptDefinition(
      workflowDefinition({ toleratedFailurePercentage: 7 }).asl,
    );
    const processor = processorOf(definition);
    expect(processor.States["GranuleFailed"]).toMatchObject({ Type: "Succeed" });
    expect(processor.States["GranuleFailed"]).not.toHaveProperty("Error");
    expect(processor.States["RecordFailure"]).toMatchObject({ Next: "GranuleFailed" });
    expect(distributedMaps).toEqual([
      {
        stateName: "DownloadGranules",
        itemsPath: "$.manifest.items",
        maxConcurrency: 15,
        toleratedFailurePercentage: 7,
        replacedFailStates: ["GranuleFailed"],
      },
    ]);
  });

  it("keeps every other state exactly as synthesized", () => {
    const { asl } = workflowDefinition();
    const { definition } = adaptDefinition(asl);
    const { Download, RecordFailure } = processorOf(definition).States;
    const original = processorOf(asl).States;
    expect(Download).toEqual({ ...original["Download"], TimeoutSeconds: 900 });
    expect(RecordFailure).toEqual({ ...original["RecordFailure"], TimeoutSeconds: 900 });
    expect(definition.States["GenerateQueries"]).toEqual({
      ...asl.States["GenerateQueries"],
      TimeoutSeconds: 900,
    });
    expect(definition.States["DownloadGranules"]!["ItemSelector"]).toEqual(
      asl.States["DownloadGranules"]!["ItemSelector"],
    );
    expect(definition.StartAt).toBe(asl.StartAt);
  });

  it("leaves the caller's definition untouched", () => {
    const { asl } = workflowDefinition();
    const before = structuredClone(asl);
    adaptDefinition(asl, { concurrency: 3 });
    expect(asl).toEqual(before);
  });

  it("overrides the Distributed Map's MaxConcurrency with the concurrency option", () => {
    const { definition, distributedMaps } = adaptDefinition(workflowDefinition({ maxConcurrency: 15 }).asl, {
      concurrency: 4,
    });
    expect(definition.States["DownloadGranules"]!["MaxConcurrency"]).toBe(4);
    expect(distributedMaps[0]?.maxConcurrency).toBe(4);
  });

  it("gives Tasks without a timeout the Lambda timeout and keeps an explicit one", () => {
    const { definition } = adaptDefinition(workflowDefinition().asl, { taskTimeoutSeconds: 120 });
    expect(definition.States["GenerateQueries"]!["TimeoutSeconds"]).toBe(120);
    expect(definition.States["Summarize"]!["TimeoutSeconds"]).toBe(300);
  });

  it("lists every Task state, nested ones included, for binding", () => {
    const { taskStates } = adaptDefinition(workflowDefinition().asl);
    expect(taskStates.sort()).toEqual(["Download", "GenerateQueries", "RecordFailure", "Summarize"]);
  });

  it("rejects a concurrency that is not a positive integer", () => {
    expect(() => adaptDefinition(workflowDefinition().asl, { concurrency: 0 })).toThrow(/concurrency/);
  });

  it("rejects a JSONata definition the engine would silently misrun", () => {
    const { asl } = workflowDefinition();
    expect(() => adaptDefinition({ ...asl, QueryLanguage: "JSONata" })).toThrow(/JSONata/);
  });

  it("rejects an ItemBatcher the engine would ignore", () => {
    const { asl } = workflowDefinition();
    asl.States["DownloadGranules"]!["ItemBatcher"] = { MaxItemsPerBatch: 10 };
    expect(() => adaptDefinition(asl)).toThrow(/ItemBatcher/);
  });
});
