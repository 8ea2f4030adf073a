import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { granuleTableDefinition } from "../../src/adapters/store/table";

// dynalite ships no type declarations; loading it through require keeps its typing local to this file.
const dynalite = createRequire(import.meta.url)("dynalite") as (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}) => Server;

export interface LocalDynamo {
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  endpoint: string;
  close(): Promise<void>;
}

/** Starts an in-memory dynalite on 127.0.0.1 (a free port) with clients pointed at it. */
export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  return {
    client,
    documentClient: DynamoDBDocumentClient.from(client),
    endpoint,
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Creates the granule table as the stack does: pk, plus the sparse (day, status) index projecting everything. */
export async function createGranuleTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand(granuleTableDefinition(tableName)));
  // dynalite turns a table ACTIVE on a timer even with createTableMs 0; a request to a CREATING table
  // answers ResourceNotFoundException, so wait for ACTIVE (CI saw that race once under load).
  for (let tries = 0; tries < 500; tries++) {
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (described.Table?.TableStatus === "ACTIVE") return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}
