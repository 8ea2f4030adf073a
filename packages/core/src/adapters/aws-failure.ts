import { AwsUnavailableError } from "../domain/errors";

/**
 * AWS error names that mean "try again later": DynamoDB's throttling ("ThrottlingException",
 * "ProvisionedThroughputExceededException", "RequestLimitExceeded"), S3's "SlowDown" (503) and
 * "RequestTimeout" (a 400: "Your socket connection to the server was not read from or written to
 * within the timeout period"), the services' internal errors, and the SDK's own request timeout.
 */
const TRANSIENT_AWS_ERRORS = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "SlowDown",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalServerError",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
]);

/** Node's network failures (no HTTP answer at all): the connection may work on the next try. */
const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND"]);

/**
 * Whether an AWS SDK failure may pass by itself once its own retries are spent: the one place that
 * decides (the store and the transfer both ask it). A refusal (4xx: AccessDenied, a failed condition,
 * NoSuchUpload) is not: it passes unchanged for its caller to judge.
 */
export function isTransientAwsFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (TRANSIENT_AWS_ERRORS.has(error.name)) return true;
  return NETWORK_CODES.has(String((error as { code?: unknown }).code));
}

/**
 * An AWS failure with what we were doing: a transient one as the declared, retryable
 * AwsUnavailableError; any other keeps its own name (a Catch or a caller still sees, e.g.,
 * ConditionalCheckFailedException).
 */
export function asAwsFailure(error: unknown, context: string): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  if (isTransientAwsFailure(original)) {
    const status = (original as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return new AwsUnavailableError(`${context}: ${original.name}: ${original.message}`, {
      cause: error,
      awsError: original.name,
      ...(status !== undefined && { status }),
    });
  }
  const wrapped = new Error(`${context}: ${original.message}`, { cause: error });
  wrapped.name = original.name;
  return wrapped;
}
