/**
 * The SSM parameters a deployed stage publishes so the operator CLI (`npm run ops -- --stage NAME`)
 * finds its resources without knowing SST's stack names or CloudFormation output keys. Plain
 * constants, no CDK: the stacks and the CLI both import them from core.
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

/**
 * Parameters a stage publishes for others than the operator CLI (which does not require them): the
 * Download and sweeper roles' ARNs, for the HLS side's bucket policy (issue 14 names this path), and the
 * push endpoint.
 */
export const PUBLISHED_PARAMETERS = {
  downloadRoleArn: "downloadRoleArn",
  /** Summarize's role, which aborts abandoned uploads: the bucket policy's second principal (abort only). */
  sweeperRoleArn: "sweeperRoleArn",
  /** The CDSE push endpoint's URL, or PUSH_ENDPOINT_DISABLED on a stage without push. */
  pushEndpoint: "push-endpoint",
} as const;

/** The push-endpoint parameter's value on a stage without push subscriptions. */
export const PUSH_ENDPOINT_DISABLED = "disabled";

/**
 * Where Storage writes the upload bucket's name for the stacks that use it (Workflow, Push). They
 * read it at deploy time instead of importing a CloudFormation export: an export's value cannot change
 * while another stack imports it, and switching UPLOAD_BUCKET_NAME on changes exactly that value.
 * A sub-folder, so `GetParametersByPath` of the stage folder (not recursive) never lists it.
 */
export function uploadBucketNameParameter(stage: string): string {
  return `${stageParameterPath(stage)}storage/upload-bucket-name`;
}
