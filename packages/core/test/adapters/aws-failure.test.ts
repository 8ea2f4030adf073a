import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { asAwsFailure, isTransientAwsFailure } from "../../src/adapters/aws-failure";
import { createDocumentClient } from "../../src/adapters/store/client";
import { GranuleStore } from "../../src/adapters/store/store";
import { AwsUnavailableError, isRetryable, RETRYABLE_ERROR_NAMES } from "../../src/domain/errors";

/** An SDK service error as the SDK throws it: a name and the HTTP status in $metadata. */
function sdkError(name: string, status?: number, code?: string): Error {
  const error = Object.assign(new Error(`${name} happened`), {
    ...(status !== undefined && { $metadata: { httpStatusCode: status } }),
    ...(code !== undefined && { code }),
  });
  error.name = name;
  return error;
}

describe("AWS failures that outlive the SDK's retries", () => {
  it.each([
    ["ThrottlingException", 400],
    ["ProvisionedThroughputExceededException", 400],
    ["RequestLimitExceeded", 400],
    ["InternalServerError", 500],
    ["SlowDown", 503],
    ["RequestTimeout", 400],
    ["ServiceUnavailable", 503],
  ])("turns %s (%i) into the declared, retryable AwsUnavailableError", (name, status) => {
    const failure = asAwsFailure(sdkError(name, status), "getGranule g1");

    expect(isTransientAwsFailure(sdkError(name, status))).toBe(true);
    expect(failure).toBeInstanceOf(AwsUnavailableError);
    expect(failure).toMatchObject({ awsError: name, status });
    expect(failure.message).toContain("getGranule g1");
    expect(isRetryable(failure)).toBe(true);
    expect(RETRYABLE_ERROR_NAMES).toContain(failure.name);
  });

  it("treats a reset connection and the SDK's request timeout as transient", () => {
    expect(isTransientAwsFailure(sdkError("Error", undefined, "ECONNRESET"))).toBe(true);
    expect(isTransientAwsFailure(sdkError("TimeoutError"))).toBe(true);
  });

  it("keeps a refusal under its own name", () => {
    const failure = asAwsFailure(sdkError("ConditionalCheckFailedException", 400), "claim g1");

    expect(isTransientAwsFailure(sdkError("AccessDenied", 403))).toBe(false);
    expect(failure).not.toBeInstanceOf(AwsUnavailableError);
    expect(failure.name).toBe("ConditionalCheckFailedException");
  });

  it("reaches the state machine from the store as AwsUnavailableError, not ThrottlingException", async () => {
    const client = createDocumentClient(new DynamoDBClient({ region: "us-east-1" }));
    const mock = mockClient(client);
    mock.on(GetCommand).rejects(sdkError("ThrottlingException", 400));
    const store = new GranuleStore(client, { tableName: "t" });

    await expect(store.getGranule("g1")).rejects.toMatchObject({
      name: "AwsUnavailableError",
      awsError: "ThrottlingException",
    });
    mock.restore();
  });
});
