import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { configureRuntime, getConfig, getHub, getS3, getStore, resetRuntime } from "../src/lib/runtime";
import { lambdaEnv } from "./helpers/local";

afterEach(() => resetRuntime());

function secretsAnswering(secretString: string) {
  const secrets = new SecretsManagerClient({ region: "us-east-1" });
  const mock = mockClient(secrets);
  mock.on(GetSecretValueCommand).resolves({ SecretString: secretString });
  return { secrets, mock };
}

describe("runtime", () => {
  it("parses the configuration once per container", () => {
    const env = lambdaEnv({ LOOKBACK_DAYS: "3" });
    configureRuntime({ env });

    const first = getConfig();
    env.LOOKBACK_DAYS = "7";

    expect(getConfig()).toBe(first);
    expect(first.lookbackDays).toBe(3);
  });

  it("points the S3 client at BUCKET_REGION when the upload bucket lives in another region", async () => {
    configureRuntime({ env: lambdaEnv({ BUCKET_REGION: "eu-central-1" }) });
    expect(await getS3().config.region()).toBe("eu-central-1");
    resetRuntime();
    configureRuntime({ env: { ...lambdaEnv(), AWS_REGION: "us-west-2" } });
    // Without it the SDK's own chain decides (the function's AWS_REGION on Lambda).
    expect(getConfig().bucketRegion).toBeUndefined();
  });

  it("builds the DHuS hub with credentials read once from Secrets Manager", async () => {
    const { secrets, mock } = secretsAnswering(JSON.stringify({ username: "alice", password: "s3cret" }));
    configureRuntime({ env: lambdaEnv(), clients: { secrets } });

    const hub = await getHub();
    await getHub();

    expect(hub.kind).toBe("dhus");
    expect(mock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(mock.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: "hub-secret" });
  });

  it("reads the download hub's own secret when one is configured", async () => {
    const { secrets, mock } = secretsAnswering(JSON.stringify({ username: "bob", password: "pw" }));
    configureRuntime({
      env: lambdaEnv({
        DOWNLOAD_HUB_URL: "http://127.0.0.1:9/inthub",
        DOWNLOAD_HUB_SECRET_ID: "inthub-secret",
      }),
      clients: { secrets },
    });

    await getHub();

    const ids = mock.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId);
    expect(ids.sort()).toEqual(["hub-secret", "inthub-secret"]);
  });

  it("refuses a malformed secret with a ConfigError that does not echo its content", async () => {
    const { secrets } = secretsAnswering(JSON.stringify({ user: "alice", pass: "hunter2" }));
    configureRuntime({ env: lambdaEnv(), clients: { secrets } });

    const error = await getHub().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );

    expect(error).toMatchObject({ name: "ConfigError", issues: [{ key: "HUB_SECRET_ID" }] });
    expect(error?.message).not.toContain("hunter2");
  });

  it("needs HUB_SECRET_ID unless credentials are given", async () => {
    const { HUB_SECRET_ID: _dropped, ...env } = lambdaEnv();
    configureRuntime({ env });

    await expect(getHub()).rejects.toMatchObject({ name: "ConfigError", issues: [{ key: "HUB_SECRET_ID" }] });
  });

  it("uses the credentials it is given without asking Secrets Manager", async () => {
    const { secrets, mock } = secretsAnswering("{}");
    configureRuntime({
      env: lambdaEnv(),
      clients: { secrets },
      credentials: { hub: { username: "u", password: "p" } },
    });

    expect((await getHub()).kind).toBe("dhus");
    expect(mock.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it("builds the CDSE hub with the catalogue and zipper hosts", async () => {
    configureRuntime({
      env: lambdaEnv({ HUB_KIND: "cdse", DOWNLOAD_HUB_URL: "http://127.0.0.1:9/zipper" }),
      credentials: { hub: { username: "u", password: "p" } },
    });

    const hub = await getHub();

    expect(hub).toMatchObject({
      kind: "cdse",
      catalogueUrl: "http://127.0.0.1:9/hub",
      downloadUrl: "http://127.0.0.1:9/zipper",
    });
  });

  it("refuses a CDSE hub without a download host", async () => {
    configureRuntime({
      env: lambdaEnv({ HUB_KIND: "cdse" }),
      credentials: { hub: { username: "u", password: "p" } },
    });

    await expect(getHub()).rejects.toMatchObject({
      name: "ConfigError",
      issues: [{ key: "DOWNLOAD_HUB_URL" }],
    });
  });

  it("asks Secrets Manager again after a failed cold start instead of keeping the failure", async () => {
    const secrets = new SecretsManagerClient({ region: "us-east-1" });
    mockClient(secrets)
      .on(GetSecretValueCommand)
      .rejectsOnce(new Error("Rate exceeded"))
      .resolves({ SecretString: JSON.stringify({ username: "u", password: "p" }) });
    configureRuntime({ env: lambdaEnv(), clients: { secrets } });

    await expect(getHub()).rejects.toThrow("Rate exceeded");

    expect((await getHub()).kind).toBe("dhus");
  });
});

describe("a deployed function's configuration", () => {
  const pushEnv = { FUNCTION_NAME: "ReceivePush", HUB_KIND: "cdse", TABLE_NAME: "granules" };

  it("fails at cold start naming a key its function requires", () => {
    configureRuntime({ env: pushEnv });
    expect(() => getConfig()).toThrow(
      expect.objectContaining({
        name: "ConfigError",
        issues: [{ key: "PUSH_SECRET_ID", message: "is required" }],
      }),
    );
  });

  it("starts without the buckets and hub it does not read, and names one a reader asks for", async () => {
    configureRuntime({ env: { ...pushEnv, PUSH_SECRET_ID: "push-secret" } });
    expect(getConfig("ReceivePush").pushSecretId).toBe("push-secret");
    expect(getStore()).toBeDefined();
    expect(() => getConfig("Download")).toThrow(
      expect.objectContaining({
        name: "ConfigError",
        issues: expect.arrayContaining([{ key: "BUCKET_NAME", message: "is required" }]),
      }),
    );
    await expect(getHub()).rejects.toMatchObject({ name: "ConfigError" });
  });
});
