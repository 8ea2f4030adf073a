import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import type { Hub } from "../../src/adapters/hub/hub";
import { GranuleStore } from "../../src/adapters/store/store";
import type { MetricName, MetricSink } from "../../src/domain/metrics";
import { type DownloadDeps, downloadGranule } from "../../src/usecases/download";
import { fakeHub, memoryS3 } from "../helpers/s3";

// Issue 22, "No upload outlives its granule": an attempt that dies between CreateMultipartUpload and
// recording the upload id leaves an upload the table cannot name; the next claim must find and abort it.

const MIB = 1024 * 1024;
const TABLE = "unrecorded-upload-test";
const dynamo = useGranuleTable(TABLE);

/** A store whose process "dies" at the first upload record: that write and every later one fail. */
class DyingStore extends GranuleStore {
  killed = false;
  died = false;
  override async saveUploadProgress(...args: Parameters<GranuleStore["saveUploadProgress"]>) {
    if (!this.died) {
      this.died = true;
      this.killed = true;
    }
    if (this.killed) throw new Error("runtime exited: signal killed");
    return super.saveUploadProgress(...args);
  }
  override async markFailed(...args: Parameters<GranuleStore["markFailed"]>) {
    if (this.killed) throw new Error("runtime exited: signal killed");
    return super.markFailed(...args);
  }
}

async function setUp(options: { listDenied?: boolean } = {}) {
  const granule = aDiscoveredGranule();
  const store = new DyingStore(dynamo.documentClient, { tableName: TABLE });
  await store.recordDiscovered(granule, aUniqueDay());
  const product = fakeHub({ size: 12 * MIB, chunkBytes: 256 * 1024 });
  const hub: Hub = {
    kind: "dhus",
    listSearchPage: async () => {
      throw new Error("not used by downloads");
    },
    getChecksum: async () => product.md5,
    openDownload: (id, callOptions) => product.openDownload(id, callOptions),
  };
  const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  const { mock, state } = memoryS3(s3);
  // A dead sandbox sends nothing: not even the abort of the upload it could not record.
  mock.on(AbortMultipartUploadCommand).callsFake(async (input) => {
    if (store.killed) throw new Error("runtime exited: signal killed");
    const upload = state.uploads.get(input.UploadId);
    if (upload !== undefined) upload.state = "aborted";
    return {};
  });
  if (options.listDenied === true) {
    mock.on(ListMultipartUploadsCommand).rejects(
      new S3ServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
        message: "Access Denied",
      }),
    );
  }
  const added: { name: MetricName; value: number }[] = [];
  const metrics: MetricSink = { add: (name, value) => added.push({ name, value }) };
  const deps: DownloadDeps = {
    store,
    hub,
    s3,
    bucket: "upload-bucket",
    objectPrefix: "incoming",
    partSizeBytes: 5 * MIB,
    queueSize: 1,
    listUploads: true,
    metrics,
  };
  const open = () => [...state.uploads.values()].filter((upload) => upload.state === "open");
  const lists = () => mock.commandCalls(ListMultipartUploadsCommand).length;
  return { granule, store, deps, state, open, lists, added };
}

describe("an upload created by an attempt that died before recording it", () => {
  it("is found and aborted by the next claim, which then delivers the granule", async () => {
    const { granule, store, deps, state, open, added } = await setUp();

    await expect(downloadGranule({ granuleId: granule.granuleId, owner: "child-1" }, deps)).rejects.toThrow(
      "signal killed",
    );
    expect(open()).toHaveLength(1);
    expect((await store.getGranule(granule.granuleId))?.uploadCreating).toMatchObject({
      key: expect.stringContaining(granule.name),
    });

    // Step Functions retries Lambda.Unknown: the same child claims its own lease again.
    store.killed = false;
    const retry = await downloadGranule({ granuleId: granule.granuleId, owner: "child-1" }, deps);

    expect(retry.outcome).toBe("downloaded");
    expect(open()).toEqual([]);
    expect([...state.uploads.values()].map((upload) => upload.state).sort()).toEqual([
      "aborted",
      "completed",
    ]);
    expect(state.objects.get(retry.key!)?.length).toBe(12 * MIB);
    const record = await store.getGranule(granule.granuleId);
    expect(record).toMatchObject({ status: "DOWNLOADED" });
    expect(record?.uploadCreating).toBeUndefined();
    expect(added.filter((entry) => entry.name === "UploadsUnrecorded")).toEqual([
      { name: "UploadsUnrecorded", value: 1 },
    ]);
  });

  it("is left to the lifecycle rule, never failing the download, when the bucket grants no list", async () => {
    const { granule, store, deps, open } = await setUp({ listDenied: true });
    await downloadGranule({ granuleId: granule.granuleId, owner: "child-2" }, deps).catch(() => undefined);
    store.killed = false;

    const retry = await downloadGranule({ granuleId: granule.granuleId, owner: "child-2" }, deps);

    expect(retry.outcome).toBe("downloaded");
    expect(open()).toHaveLength(1);
  });

  it("is not looked for on a bucket whose policy grants no list (HLS's): counted, left to the lifecycle rule", async () => {
    const { granule, store, deps, open, lists, added } = await setUp();
    const hlsBucket = { ...deps, listUploads: false };
    await downloadGranule({ granuleId: granule.granuleId, owner: "child-4" }, hlsBucket).catch(
      () => undefined,
    );
    store.killed = false;

    const retry = await downloadGranule({ granuleId: granule.granuleId, owner: "child-4" }, hlsBucket);

    expect(retry.outcome).toBe("downloaded");
    expect(lists()).toBe(0);
    expect(open()).toHaveLength(1);
    expect(added.filter((entry) => entry.name === "UploadsUnrecorded")).toHaveLength(1);
  });

  it("costs no list request when every upload was recorded", async () => {
    const { granule, store, deps, lists } = await setUp();
    // Never killed: the first record succeeds.
    store.died = true;

    const result = await downloadGranule({ granuleId: granule.granuleId, owner: "child-3" }, deps);

    expect(result.outcome).toBe("downloaded");
    expect(lists()).toBe(0);
    expect((await store.getGranule(granule.granuleId))?.uploadCreating).toBeUndefined();
  });
});
