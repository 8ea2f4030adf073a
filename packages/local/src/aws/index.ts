// The AWS stand-ins the local run uses, and the only way in for ../run: Step Functions (the adapted
// definition, executions and their records, the Distributed Map's Map Run), Lambda (invocations within
// their timeout, the LambdaInvoke binding), the embedded S3 (s3rver and the gaps filled in front of it)
// and DynamoDB (dynalite or DynamoDB Local), and the record of the AWS calls each principal makes.
import "./polyfills";

export * from "./aws-calls";
export * from "./definition";
export { dynamoDbLocalAvailable } from "./dynamo-server";
export * from "./embedded";
export * from "./execution";
export * from "./executions";
export {
  checkLambdaOptions,
  type Handler,
  type InvocationFault,
  type LambdaInvocation,
  type LocalLambdaContext,
  type LocalLambdaOptions,
} from "./lambda";
export * from "./lambda-tasks";
export * from "./map-run";
export { completedUploads, type S3Request } from "./s3-gaps";
export { listUploads } from "./s3rver-uploads";
export * from "./workflow";
