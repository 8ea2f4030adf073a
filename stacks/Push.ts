import { PUBLISHED_PARAMETERS, PUSH_ENDPOINT_DISABLED, stageParameterPath } from "@hls-s2/core/config";
import { PUSHED_DOWNLOADS_INTERVAL_MINUTES } from "@hls-s2/core/usecases";
import { RemovalPolicy } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as ssm from "aws-cdk-lib/aws-ssm";
import { NagSuppressions } from "cdk-nag";
import { type StackContext, use } from "sst/constructs";
import { suppressIndexGrantFinding } from "./findings";
import { sizedFunction } from "./functions";
import { Storage } from "./Storage";
import { useStageSettings } from "./settings";
import { Workflow } from "./Workflow";

/** The rule that asks whether pushed granules wait: the "within 5 minutes". */
export const PUSH_DOWNLOAD_SCHEDULE = `rate(${PUSHED_DOWNLOADS_INTERVAL_MINUTES} minutes)`;
/**
 * The receiver's table calls: recordDiscovered's conditional PutItem (core/src/adapters/store/granules.ts) and the UpdateItem
 * that counts the recorded granule on its (day, platform) counter, which WriteManifest reconciles.
 */
export const PUSH_TABLE_ACTIONS = ["dynamodb:PutItem", "dynamodb:UpdateItem"] as const;
/** StartPushedDownloads' table calls: listByStatus's Query of the (day, status) index, nothing else. */
export const PUSHED_DOWNLOADS_TABLE_ACTIONS = ["dynamodb:Query"] as const;
/** StartPushedDownloads' state machine calls (core/src/usecases/start-pushed-downloads.ts): is one running, start one. */
export const PUSHED_DOWNLOADS_STATE_MACHINE_ACTIONS = [
  "states:ListExecutions",
  "states:StartExecution",
] as const;

/**
 * CDSE push subscriptions: the endpoint CDSE posts new products to (a Lambda function URL, see
 * receive-push.ts for why not an HTTP API), its Basic credentials in Secrets Manager, and a rule that
 * every 5 minutes invokes StartPushedDownloads, which starts a download-only execution when pushed
 * granules wait and none is running (core/src/usecases/start-pushed-downloads.ts).
 *
 * Why batched runs and not one execution per push: a push is one granule, and CDSE publishes ~10,000
 * L1C products a day. One execution per push would be ~10,000 parent executions a day, each with its own
 * Distributed Map, so MaxConcurrency (the hub's download quota) would hold per execution only and a burst
 * of pushes would open as many downloads as pushes. A pushed-granules run batches everything pending into one
 * manifest and one Distributed Map, so MaxConcurrency and the tolerated failure share hold across every
 * push, and the push endpoint stays a fast conditional put that never waits for a download.
 */
export function Push({ stack, app }: StackContext) {
  const settings = useStageSettings(app);
  // Same logical id on and off, so switching push off updates this parameter in place.
  const endpointParameter = (value: string) =>
    new ssm.StringParameter(stack, "PushEndpointParameter", {
      parameterName: `${stageParameterPath(app.stage)}${PUBLISHED_PARAMETERS.pushEndpoint}`,
      stringValue: value,
      description: `CDSE push endpoint, or "${PUSH_ENDPOINT_DISABLED}"`,
    });
  // The stack stays in the app when push is off (sst deploy would not delete it, leaving the public
  // endpoint and the 5-minute rule in place); it then holds only this parameter, since CloudFormation
  // cannot deploy an empty stack.
  if (!settings.pushEnabled) {
    endpointParameter(PUSH_ENDPOINT_DISABLED);
    return { enabled: false as const };
  }
  const storage = use(Storage);
  const { stateMachine } = use(Workflow);
  const removalPolicy = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  // What the stack computes for both (core's FUNCTION_CONFIG lists their keys): neither touches a bucket or the hub.
  const computed = { STAGE: app.stage, TABLE_NAME: storage.table.tableName };

  // The pair the subscription is created with (npm run subscriptions -- create reads it from the operator).
  const pushSecret = new secretsmanager.Secret(stack, "PushCredentials", {
    description: `HLS S2 downloader (${app.stage}): Basic credentials CDSE presents to the push endpoint`,
    generateSecretString: {
      secretStringTemplate: JSON.stringify({ username: "cdse-push" }),
      generateStringKey: "password",
      excludePunctuation: true,
      passwordLength: 40,
    },
    removalPolicy,
  });

  const receiver = sizedFunction(stack, settings, "ReceivePush", {
    file: "receive-push",
    // CDSE authenticates with Basic credentials, not IAM signatures: the function checks them itself.
    // No CORS: the caller is CDSE's server, never a browser, so no origin may read the answers.
    url: { authorizer: "none", cors: false },
    // A ceiling on what a flood of requests can take from the account's concurrency (which the
    // downloads need). Lambda: "You can throttle the rate of requests that your Lambda function
    // processes through a function URL by configuring reserved concurrency"; it is taken from the
    // account's unreserved pool, of which Lambda keeps 100 ("reserve up to the Unreserved account
    // concurrency value … minus 100"), so a small account must raise its quota first.
    reservedConcurrentExecutions: settings.pushReservedConcurrency,
    values: { ...computed, PUSH_SECRET_ID: pushSecret.secretArn },
  });
  // A conditional put is all it writes; it never reads the table, the buckets or the hub secret.
  storage.table.grant(receiver, ...PUSH_TABLE_ACTIONS);
  iam.Grant.addToPrincipal({
    grantee: receiver,
    actions: ["secretsmanager:GetSecretValue"],
    resourceArns: [pushSecret.secretArn],
  });

  NagSuppressions.addResourceSuppressions(pushSecret, [
    {
      id: "AwsSolutions-SMG4",
      reason:
        "CDSE's push subscription holds this pair (NotificationEpUsername/Password): a rotation here would lock CDSE out until the subscription is recreated with `npm run subscriptions`, so it is changed by hand, together",
    },
  ]);
  suppressIndexGrantFinding([receiver], "PutItem and UpdateItem act on the table itself");

  const starter = sizedFunction(stack, settings, "StartPushedDownloads", {
    file: "start-pushed-downloads",
    values: { ...computed, STATE_MACHINE_ARN: stateMachine.stateMachineArn },
  });
  storage.table.grant(starter, ...PUSHED_DOWNLOADS_TABLE_ACTIONS);
  iam.Grant.addToPrincipal({
    grantee: starter,
    actions: [...PUSHED_DOWNLOADS_STATE_MACHINE_ACTIONS],
    resourceArns: [stateMachine.stateMachineArn],
  });
  suppressIndexGrantFinding([starter], "Query reads the (day, status) index");

  // EventBridge invokes the target asynchronously and may deliver twice; the slot's execution name
  // makes a second delivery start nothing (core/src/usecases/start-pushed-downloads.ts).
  const rule = new events.Rule(stack, "PushedGranulesRun", {
    description: "Starts a download-only run within 5 minutes of a push, when none is running",
    schedule: events.Schedule.expression(PUSH_DOWNLOAD_SCHEDULE),
    targets: [new targets.LambdaFunction(starter)],
  });

  const endpoint = `${receiver.url ?? ""}events`;
  endpointParameter(endpoint);
  stack.addOutputs({ PushEndpoint: endpoint, PushSecretArn: pushSecret.secretArn });
  return { enabled: true as const, receiver, starter, endpoint, pushSecret, rule };
}
