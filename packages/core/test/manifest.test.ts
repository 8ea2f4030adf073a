import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../src/errors";
import type { GranuleRecord } from "../src/granule";
import { type ManifestDeps, writeManifest } from "../src/manifest";
import { makeRecord } from "./helpers/use-case-fakes";

function storeWith(byDay: Record<string, GranuleRecord[]>) {
  const asked: string[] = [];
  const store = {
    async listPending(day: string) {
      asked.push(day);
      return byDay[day] ?? [];
    },
  } as unknown as ManifestDeps["store"];
  return { store, asked };
}

describe("writeManifest", () => {
  it("writes the pending granules of every day of the window as a JSON array", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const first = makeRecord({ day: "2024-01-01" });
    const second = makeRecord({ day: "2024-01-02", status: "FAILED", attempts: 1 });
    const { store, asked } = storeWith({ "2024-01-01": [first], "2024-01-02": [second] });

    const result = await writeManifest(
      { from: "2024-01-01", to: "2024-01-03", executionName: "daily-2024-01-04" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
    );

    expect(result).toEqual({ bucket: "work-bucket", key: "manifests/daily-2024-01-04.json", count: 2 });
    expect(asked).toEqual(["2024-01-01", "2024-01-02", "2024-01-03"]);
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({
      Bucket: "work-bucket",
      Key: "manifests/daily-2024-01-04.json",
      ContentType: "application/json",
    });
    expect(JSON.parse(put.Body as string)).toEqual([
      { granuleId: first.granuleId, name: first.name, day: "2024-01-01" },
      { granuleId: second.granuleId, name: second.name, day: "2024-01-02" },
    ]);
  });

  it("writes an empty array when nothing is pending", async () => {
    const s3Mock = mockClient(S3Client);
    s3Mock.on(PutObjectCommand).resolves({});
    const { store } = storeWith({});

    const result = await writeManifest(
      { from: "2024-01-01", to: "2024-01-01", executionName: "empty-run" },
      { store, s3: new S3Client({}), bucket: "work-bucket" },
    );

    expect(result.count).toBe(0);
    expect(s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input.Body).toBe("[]");
  });

  it("rejects an execution name that would escape the manifests prefix", async () => {
    const s3Mock = mockClient(S3Client);
    const { store } = storeWith({});

    await expect(
      writeManifest(
        { from: "2024-01-01", to: "2024-01-01", executionName: "../results/x" },
        { store, s3: new S3Client({}), bucket: "work-bucket" },
      ),
    ).rejects.toThrow(InvalidInputError);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });
});
