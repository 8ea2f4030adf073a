import type { Asl } from "../../src/aws/definition";

/** A Lambda ARN as CDK writes it into a DefinitionString. */
function functionArn(logicalId: string) {
  return { "Fn::GetAtt": [logicalId, "Arn"] };
}

function lambdaTask(logicalId: string, extra: Record<string, unknown>) {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::lambda:invoke",
    Parameters: { FunctionName: `@@${logicalId}@@`, "Payload.$": "$" },
    ...extra,
  };
}

/**
 * A definition shaped like the one CDK synthesizes for the workflow (LambdaInvoke with
 * payloadResponseOnly, a Distributed Map with an S3 JSON item reader whose child ends at Download),
 * as the ASL object and as the DefinitionString CloudFormation receives. `withFailState` adds a
 * Catch into a Fail state, the shape the local run must keep as it is.
 */
export function workflowDefinition(
  overrides: { toleratedFailurePercentage?: number; maxConcurrency?: number; withFailState?: boolean } = {},
) {
  const download = lambdaTask("DownloadFn", {
    End: true,
    Retry: [{ ErrorEquals: ["HubUnavailableError"], IntervalSeconds: 5, MaxAttempts: 6, BackoffRate: 2 }],
    ...(overrides.withFailState === true && {
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "GranuleFailed" }],
    }),
  });
  const processorStates: Record<string, unknown> = { Download: download };
  if (overrides.withFailState === true)
    processorStates["GranuleFailed"] = { Type: "Fail", Error: "GranuleFailed" };
  const asl: Asl = {
    StartAt: "GenerateQueries",
    States: {
      GenerateQueries: lambdaTask("GenerateQueriesFn", { ResultPath: "$.plan", Next: "DownloadGranules" }),
      DownloadGranules: {
        Type: "Map",
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: "Download",
          States: processorStates,
        },
        ItemReader: {
          Resource: "arn:aws:states:::s3:getObject",
          ReaderConfig: { InputType: "JSON" },
          Parameters: { Bucket: "@@WorkBucket@@", "Key.$": "$.manifest.key" },
        },
        ItemSelector: { "granuleId.$": "$$.Map.Item.Value.granuleId", "name.$": "$$.Map.Item.Value.name" },
        MaxConcurrency: overrides.maxConcurrency ?? 15,
        ToleratedFailurePercentage: overrides.toleratedFailurePercentage ?? 10,
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: "@@WorkBucket@@", Prefix: "results/" },
        },
        ResultPath: null,
        Next: "Summarize",
      },
      Summarize: lambdaTask("SummarizeFn", { End: true, TimeoutSeconds: 300 }),
    },
  };
  // Split the JSON where CDK puts tokens, the way its Fn::Join looks in a template.
  const parts = JSON.stringify(asl).split(/@@(\w+)@@/);
  const joined = parts.map((part, i) =>
    i % 2 === 0 ? part : part === "WorkBucket" ? { Ref: "WorkBucket1A2B3C" } : functionArn(part),
  );
  return { asl, definitionString: { "Fn::Join": ["", joined] } };
}
