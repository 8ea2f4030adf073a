import { describe, expect, it } from "vitest";
import {
  type Asl,
  type AslState,
  adaptDefinition,
  DISTRIBUTED_MAP_RESOURCE,
  flattenDefinitionString,
} from "../../src/aws/definition";
import { workflowDefinition } from "../helpers/definitions";

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
  it("hands the Distributed Map to the Map Run executor as a Task with the Map's transitions and paths", () => {
    const { asl } = workflowDefinition();
    const { definition, distributedMaps } = adaptDefinition(asl);
    expect(definition.States["DownloadGranules"]).toEqual({
      Type: "Task",
      Resource: DISTRIBUTED_MAP_RESOURCE,
      TimeoutSeconds: 2_147_483,
      ResultPath: null,
      Next: "Summarize",
    });
    expect(distributedMaps).toHaveLength(1);
    expect(distributedMaps[0]?.stateName).toBe("DownloadGranules");
    expect(distributedMaps[0]?.maxConcurrency).toBe(15);
  });

  it("keeps the Map's own fields unchanged for the executor: reader, selector, tolerance, writer", () => {
    const { asl } = workflowDefinition({ toleratedFailurePercentage: 7 });
    const { distributedMaps } = adaptDefinition(asl);
    const state = distributedMaps[0]!.state;
    const original = asl.States["DownloadGranules"]!;
    for (const field of [
      "ItemReader",
      "ItemSelector",
      "ResultWriter",
      "MaxConcurrency",
      "ResultPath",
      "Next",
    ]) {
      expect(state[field]).toEqual(original[field]);
    }
    expect(state["ToleratedFailurePercentage"]).toBe(7);
  });

  it("keeps the item processor's Fail states as Fail states", () => {
    const { asl } = workflowDefinition({ withFailState: true });
    const { distributedMaps } = adaptDefinition(asl);
    const processor = distributedMaps[0]!.state["ItemProcessor"] as Asl;
    expect(processor.States["GranuleFailed"]).toEqual({ Type: "Fail", Error: "GranuleFailed" });
    expect(processor.States["Download"]!["Catch"]).toEqual(processorOf(asl).States["Download"]!["Catch"]);
  });

  it("keeps every other state exactly as synthesized", () => {
    const { asl } = workflowDefinition();
    const { definition, distributedMaps } = adaptDefinition(asl);
    const { Download } = (distributedMaps[0]!.state["ItemProcessor"] as Asl).States;
    expect(Download).toEqual({ ...processorOf(asl).States["Download"], TimeoutSeconds: 900 });
    expect(definition.States["GenerateQueries"]).toEqual({
      ...asl.States["GenerateQueries"],
      TimeoutSeconds: 900,
    });
    expect(definition.States["Summarize"]).toEqual(asl.States["Summarize"]);
    expect(definition.StartAt).toBe(asl.StartAt);
  });

  it("leaves the caller's definition untouched", () => {
    const { asl } = workflowDefinition();
    const before = structuredClone(asl);
    adaptDefinition(asl, { concurrency: 3 });
    expect(asl).toEqual(before);
  });

  it("lets the concurrency option replace the Map's MaxConcurrency for the run, not in the state", () => {
    const { distributedMaps } = adaptDefinition(workflowDefinition({ maxConcurrency: 15 }).asl, {
      concurrency: 4,
    });
    expect(distributedMaps[0]?.maxConcurrency).toBe(4);
    expect(distributedMaps[0]?.state["MaxConcurrency"]).toBe(15);
  });

  it("gives Tasks without a timeout the Lambda timeout and keeps an explicit one", () => {
    const { definition } = adaptDefinition(workflowDefinition().asl, { taskTimeoutSeconds: 120 });
    expect(definition.States["GenerateQueries"]!["TimeoutSeconds"]).toBe(120);
    expect(definition.States["Summarize"]!["TimeoutSeconds"]).toBe(300);
  });

  it("lists every Lambda Task, nested ones included, with its function for binding", () => {
    const { taskStates, taskResources } = adaptDefinition(workflowDefinition().definitionString);
    expect(taskStates.sort()).toEqual(["Download", "GenerateQueries", "Summarize"]);
    expect(taskResources["Download"]).toBe("arn:aws:lambda:us-east-1:123456789012:function:DownloadFn");
  });

  it("rejects a concurrency that is not a positive integer", () => {
    expect(() => adaptDefinition(workflowDefinition().asl, { concurrency: 0 })).toThrow(/concurrency/);
  });

  it("rejects a JSONata definition the engine would silently misrun", () => {
    const { asl } = workflowDefinition();
    expect(() => adaptDefinition({ ...asl, QueryLanguage: "JSONata" })).toThrow(/JSONata/);
  });

  it("rejects an ItemBatcher the local Map Run does not implement", () => {
    const { asl } = workflowDefinition();
    asl.States["DownloadGranules"]!["ItemBatcher"] = { MaxItemsPerBatch: 10 };
    expect(() => adaptDefinition(asl)).toThrow(/ItemBatcher/);
  });
});
