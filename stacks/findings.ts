import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { NagSuppressions } from "cdk-nag";
import type { IConstruct } from "constructs";
import type { Function as SstFunction } from "sst/constructs";
import type { WorkflowTaskName } from "./Workflow";

/** A cdk-nag `appliesTo` matching an IAM5 finding exactly, logical-id hashes left open. */
function finding(pattern: string): { regex: string } {
  return { regex: `/^Resource::${pattern}$/` };
}

/**
 * The one finding every function that reads the granule table has: `Table.grant` adds the table's
 * index ARNs (table/index/*) next to the table's. `uses` says what the function does with it.
 */
export function suppressIndexGrantFinding(functions: IConstruct[], uses: string): void {
  NagSuppressions.addResourceSuppressions(
    functions,
    [
      {
        id: "AwsSolutions-IAM5",
        reason: `Table.grant adds the table's index ARNs (table/index/*) next to the table's: ${uses}`,
        appliesTo: [finding("<Granules[0-9A-F]+\\.Arn>\\/index\\/\\*")],
      },
    ],
    true,
  );
}

/** The cdk-nag findings of the Workflow stack that stay, each with the reason it stays. */
export function suppressWorkflowFindings(
  stateMachine: sfn.StateMachine,
  functions: Record<WorkflowTaskName, SstFunction>,
  objectPrefix: string,
): void {
  suppressIndexGrantFinding(
    Object.values(functions),
    "Query reads the byDayStatus index, the table's only one",
  );
  NagSuppressions.addResourceSuppressions(
    functions.Download,
    [
      {
        id: "AwsSolutions-IAM5",
        reason: `Objects under the upload prefix ("${objectPrefix}*"): one key per granule, named after products not known at deploy time; only PutObject and AbortMultipartUpload`,
        appliesTo: [finding("arn:<AWS::Partition>:s3:::<[A-Za-z0-9]+>\\/.*\\*")],
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    functions.Summarize,
    [
      {
        id: "AwsSolutions-IAM5",
        reason: `The sweeper aborts the uploads the table records under the upload prefix ("${objectPrefix}*"), whose keys are granules' names: only AbortMultipartUpload`,
        appliesTo: [finding("arn:<AWS::Partition>:s3:::<[A-Za-z0-9]+>\\/.*\\*")],
      },
      {
        id: "AwsSolutions-IAM5",
        reason:
          "One delivery manifest per closed day, delivery/<YYYY-MM-DD>.jsonl: only PutObject, only that prefix",
        appliesTo: [finding("<WorkBucket[0-9A-F]+\\.Arn>\\/delivery\\/\\*")],
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    functions.WriteManifest,
    [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "One manifest per execution, manifests/<execution name>.json: only PutObject, only that prefix",
        appliesTo: [finding("<WorkBucket[0-9A-F]+\\.Arn>\\/manifests\\/\\*\\.json")],
      },
    ],
    true,
  );
  NagSuppressions.addResourceSuppressions(
    stateMachine,
    [
      {
        id: "AwsSolutions-IAM5",
        reason:
          "What CDK grants the state machine: its Lambda tasks' versions (function:*), the Distributed Map's ItemReader/ResultWriter objects in the work bucket, its own child executions (Describe/Stop/Redrive), and the CloudWatch Logs delivery actions, which have no resource-level permissions (Resource *)",
        appliesTo: [
          finding("<[A-Za-z]+Function[0-9A-F]+\\.Arn>:\\*"),
          finding("arn:<AWS::Partition>:s3:::<WorkBucket[0-9A-F]+>\\/\\*"),
          finding("arn:<AWS::Partition>:states:.*:execution:.*"),
          "Resource::*",
        ],
      },
      {
        id: "AwsSolutions-SF1",
        reason:
          "Level ERROR on purpose: ALL would log every state of ~13,000 child executions a day; each execution's full history stays in Step Functions (90 days) and is what an operator reads",
      },
      {
        id: "AwsSolutions-SF2",
        reason:
          'X-Ray off: its PutTraceSegments needs Resource "*", and the Map Run view of the console already shows each granule\'s child execution',
      },
    ],
    true,
  );
}
