/**
 * One Download as a Lambda container runs it, in a process of its own so the test can SIGKILL it
 * mid-transfer: the granule table, the upload bucket and the hub are the test's (they outlive this
 * process), the hub slot and the claim are taken under short leases.
 */

import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DhusHub } from "@hls-s2/core/hub";
import { createDocumentClient, GranuleStore, SlotPool } from "@hls-s2/core/store";
import { downloadGranule } from "@hls-s2/core/usecases";
import { createS3Client } from "@hls-s2/functions/lib/clients";
import { dynamoClientConfig, MOCK_CREDENTIALS, s3ClientConfig } from "@hls-s2/local";

const { values } = parseArgs({
  options: {
    "dynamo-endpoint": { type: "string" },
    "s3-endpoint": { type: "string" },
    table: { type: "string" },
    bucket: { type: "string" },
    "hub-url": { type: "string" },
    granule: { type: "string" },
    owner: { type: "string" },
    "lease-ms": { type: "string" },
  },
});
const leaseMs = Number(values["lease-ms"]);
const client = createDocumentClient(new DynamoDBClient(dynamoClientConfig(values["dynamo-endpoint"]!)));
const tableName = values.table!;
const result = await downloadGranule(
  { granuleId: values.granule!, owner: values.owner! },
  {
    store: new GranuleStore(client, { tableName, leaseMs }),
    slots: new SlotPool(client, { tableName, defaultSlots: 1, leaseMs }),
    hub: new DhusHub({
      url: values["hub-url"]!,
      credentials: MOCK_CREDENTIALS,
      filterRules: { maxAcquisitionAgeDays: 3650 },
    }),
    s3: createS3Client(s3ClientConfig(values["s3-endpoint"]!)),
    bucket: values.bucket!,
  },
);
process.stdout.write(`${JSON.stringify(result)}\n`);
