import { SFNClient } from "@aws-sdk/client-sfn";
import type { SfnTarget } from "../../src/executions";

export const REGION = "us-west-2";
export const STATE_MACHINE_ARN =
  "arn:aws:states:us-west-2:123456789012:stateMachine:prod-hls-s2-downloader-granules";

/** The execution ARN Step Functions would give `name` on the test state machine. */
export function executionArn(name: string): string {
  return `arn:aws:states:us-west-2:123456789012:execution:prod-hls-s2-downloader-granules:${name}`;
}

/** A Step Functions target whose client the test's aws-sdk-client-mock intercepts (it never leaves the process). */
export function sfnTarget(): SfnTarget {
  return {
    client: new SFNClient({ region: REGION, credentials: { accessKeyId: "test", secretAccessKey: "test" } }),
    stateMachineArn: STATE_MACHINE_ARN,
    region: REGION,
  };
}

/** SSM parameters of a deployed stage as the Workflow stack publishes them. */
export function stageParameters(stage: string) {
  const path = `/hls-s2/${stage}/`;
  return [
    { Name: `${path}state-machine-arn`, Value: STATE_MACHINE_ARN },
    { Name: `${path}table-name`, Value: `${stage}-granules` },
    { Name: `${path}upload-bucket`, Value: `${stage}-upload` },
    { Name: `${path}work-bucket`, Value: `${stage}-work` },
    { Name: `${path}lookback-days`, Value: "1" },
  ];
}

/** Client settings that keep a real SDK client on loopback with static credentials. */
export const TEST_CLIENT_CONFIG = {
  region: REGION,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
};
