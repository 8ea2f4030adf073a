import { describe, expect, it } from "vitest";
import { configureRuntime } from "../src/lib/runtime";
import { handler } from "../src/record-failure";
import { aGranule, lambdaEnv, useLocalTable } from "./helpers/local";

const table = useLocalTable();

async function aClaimedGranule(owner: string): Promise<string> {
  const { granule, day } = aGranule();
  await table.store.recordDiscovered(granule, day);
  await table.store.claimGranule(granule.granuleId, owner);
  return granule.granuleId;
}

describe("record-failure handler", () => {
  it("marks the granule FAILED with the Lambda error's type and message from the Cause JSON", async () => {
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient } });
    const owner = "arn:aws:states:us-east-1:1:execution:dl/child:1";
    const granuleId = await aClaimedGranule(owner);
    const cause = JSON.stringify({
      errorType: "ChecksumMismatchError",
      errorMessage: "granule x: MD5 aa of the streamed bytes differs from the hub's bb",
      trace: ["ChecksumMismatchError: …", "    at transferGranule"],
    });

    const result = await handler({
      granuleId,
      owner,
      error: { Error: "ChecksumMismatchError", Cause: cause },
    });

    const error = {
      name: "ChecksumMismatchError",
      message: "granule x: MD5 aa of the streamed bytes differs from the hub's bb",
    };
    expect(result).toEqual({ granuleId, status: "FAILED", error, attempts: 1 });
    expect(await table.store.getGranule(granuleId)).toMatchObject({ status: "FAILED", lastError: error });
  });

  it("keeps a plain-text Cause as the message", async () => {
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient } });
    const owner = "arn:aws:states:us-east-1:1:execution:dl/child:2";
    const granuleId = await aClaimedGranule(owner);

    const result = await handler({
      granuleId,
      owner,
      error: { Error: "States.Timeout", Cause: "Task timed out after 900.00 seconds" },
    });

    expect(result.error).toEqual({ name: "States.Timeout", message: "Task timed out after 900.00 seconds" });
  });

  it("propagates GranuleNotFoundError for a granule the table does not hold", async () => {
    configureRuntime({ env: lambdaEnv(), clients: { dynamo: table.documentClient } });

    await expect(
      handler({ granuleId: "no-such-granule", owner: "o", error: { Error: "HubAuthError", Cause: "{}" } }),
    ).rejects.toMatchObject({ name: "GranuleNotFoundError" });
  });
});
