import { join } from "node:path";
import { GetParametersByPathCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EXIT, main, parseCommandLine } from "../src/cli";
import { stageParameters } from "./helpers/aws";
import { captureIo } from "./helpers/io";

describe("command line", () => {
  it.each([
    [["status", "--stage", "prod", "--day", "2025-13-01"], "--day"],
    [["status", "--stage", "prod", "--day", "2025-05-01", "--from", "2025-05-01"], "--day"],
    [["status", "--stage", "prod", "--bogus"], "--bogus"],
    [["requeue", "--stage", "prod"], "--day"],
    [["requeue", "--stage", "prod", "--day", "2025-05-01", "--from", "2025-05-01"], "--from"],
    [["redrive", "--local", "/tmp/x", "--day", "2025-05-01"], "--day"],
    [["status", "--day", "2025-05-01"], "--stage"],
    [["status", "--stage", "prod", "--local", "/tmp/x"], "--stage"],
    [["launch", "--stage", "prod"], "--command"],
  ])("exits 2 naming the flag for %j", async (argv, flag) => {
    const ssm = mockClient(SSMClient);
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: stageParameters("prod") });
    try {
      const { out, io } = captureIo({
        local: {
          run: async () => {
            throw new Error("must not run");
          },
        },
      });

      expect(await main(argv, io)).toBe(EXIT.usage);
      expect(out.stderr).toContain(`error (${flag})`);
      expect(out.stderr).toContain("Usage: npm run ops");
    } finally {
      ssm.restore();
    }
  });

  it("prints the usage for --help and exits 0", async () => {
    const { out, io } = captureIo();

    expect(await main(["--help"], io)).toBe(EXIT.ok);
    expect(out.stdout).toMatch(/status +\[--day D/);
  });

  it("keeps each command's own flags", () => {
    expect(
      parseCommandLine(["requeue", "--local", "data", "--day", "2025-05-01", "--dry-run", "--json"]),
    ).toEqual({
      command: "requeue",
      help: false,
      json: true,
      local: "data",
      stage: undefined,
      region: undefined,
      flags: { day: "2025-05-01", "dry-run": true },
    });
  });
});

describe("resolving a stage", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("exits 3 naming the stage when it has no parameters in the region", async () => {
    const ssm = mockClient(SSMClient);
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: [] });
    try {
      const { out, io } = captureIo();

      expect(await main(["status", "--stage", "nosuchstage", "--region", "eu-west-1"], io)).toBe(
        EXIT.environment,
      );
      expect(out.stderr).toContain('stage "nosuchstage" is not deployed in eu-west-1');
      expect(ssm.commandCalls(GetParametersByPathCommand)[0]?.args[0].input.Path).toBe(
        "/hls-s2/nosuchstage/",
      );
    } finally {
      ssm.restore();
    }
  });

  it("exits 3 naming what is missing when a stage publishes only some parameters", async () => {
    const ssm = mockClient(SSMClient);
    ssm.on(GetParametersByPathCommand).resolves({ Parameters: stageParameters("half").slice(0, 2) });
    try {
      const { out, io } = captureIo();

      expect(await main(["status", "--stage", "half"], io)).toBe(EXIT.environment);
      expect(out.stderr).toContain("/hls-s2/half/upload-bucket");
    } finally {
      ssm.restore();
    }
  });

  it("exits 3 saying how to configure credentials when the SDK finds none", async () => {
    // The real default provider chain, with every source it reads made empty and the instance metadata service off.
    for (const name of [
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "AWS_PROFILE",
      "AWS_WEB_IDENTITY_TOKEN_FILE",
      "AWS_ROLE_ARN",
      "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
      "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]) {
      vi.stubEnv(name, undefined);
    }
    const nowhere = join(import.meta.dirname, "no-such-aws-folder");
    vi.stubEnv("AWS_SHARED_CREDENTIALS_FILE", join(nowhere, "credentials"));
    vi.stubEnv("AWS_CONFIG_FILE", join(nowhere, "config"));
    vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
    const { out, io } = captureIo({ clientConfig: { maxAttempts: 1 } });

    expect(await main(["status", "--stage", "prod", "--region", "us-west-2"], io)).toBe(EXIT.environment);
    expect(out.stderr).toContain("no AWS credentials found");
    expect(out.stderr).toContain("aws sso login");
  });
});
