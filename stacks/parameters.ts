/**
 * The SSM parameters a deployed stage publishes so the operator CLI (`npm run ops -- --stage NAME`)
 * finds its resources without knowing SST's stack names or CloudFormation output keys. Plain
 * constants, no CDK: the CLI imports this file too.
 */

/** The folder of a stage's parameters: `/hls-s2/<stage>/`. */
export function stageParameterPath(stage: string): string {
  return `/hls-s2/${stage}/`;
}

/** Each resource the CLI needs and the parameter name (under the stage's folder) that holds it. */
export const STAGE_PARAMETERS = {
  stateMachineArn: "state-machine-arn",
  tableName: "table-name",
  uploadBucketName: "upload-bucket",
  workBucketName: "work-bucket",
  /** The default window of a scheduled (`{}`) execution, so redrive --day can tell which days it covered. */
  lookbackDays: "lookback-days",
} as const;

export type StageParameterKey = keyof typeof STAGE_PARAMETERS;
