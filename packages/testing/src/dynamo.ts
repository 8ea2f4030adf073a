import { setTimeout as sleep } from "node:timers/promises";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { createDocumentClient, GranuleStore, granuleTableDefinition } from "@hls-s2/core/store";
import { startDynalite } from "@hls-s2/local/dynamo-server";
import { afterAll, beforeAll } from "vitest";

export interface LocalDynamo {
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  endpoint: string;
  close(): Promise<void>;
}

/** An in-memory dynalite on 127.0.0.1 (a free port), started as local mode starts its own; its endpoint. */
async function startDynaliteServer(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = await startDynalite(undefined, undefined);
  return { endpoint: `http://127.0.0.1:${server.port}`, close: () => server.close() };
}

/** A DynamoDB client for a local endpoint, known once its server listens. */
function localClient(endpoint: () => Promise<string>): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: async () => {
      const url = new URL(await endpoint());
      return { protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname };
    },
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

/** Starts an in-memory dynalite on 127.0.0.1 (a free port) with clients pointed at it. */
export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = await startDynaliteServer();
  const client = localClient(async () => server.endpoint);
  return {
    client,
    documentClient: documentClientOf(client),
    endpoint: server.endpoint,
    async close() {
      client.destroy();
      await server.close();
    },
  };
}

/** A document client on `client` with the marshalling the deployed functions use. */
export function documentClientOf(client: DynamoDBClient): DynamoDBDocumentClient {
  return createDocumentClient(client);
}

/** Creates the granule table as the stack does: pk, plus the sparse (day, status) index projecting everything. */
export async function createGranuleTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new CreateTableCommand(granuleTableDefinition(tableName)));
  // dynalite turns a table ACTIVE on a timer even with createTableMs 0; a request to a CREATING table
  // answers ResourceNotFoundException, so wait for ACTIVE (CI saw that race once under load).
  for (let tries = 0; tries < 500; tries++) {
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (described.Table?.TableStatus === "ACTIVE") return;
    await sleep(10);
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

/** Clients on the file's in-memory dynalite; usable at module scope, their requests wait for the server. */
export interface LocalDynamoClients {
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
}

/** The granule table on the file's in-memory dynalite, with a store on it. */
export interface GranuleTable extends LocalDynamoClients {
  readonly tableName: string;
  readonly store: GranuleStore;
}

/**
 * Registers the file's hooks: one in-memory dynalite on 127.0.0.1, started before the file's tests (then
 * `prepare` runs on it) and closed after them. The clients exist at once: a request waits for the server.
 */
export function useLocalDynamo(prepare: (clients: LocalDynamoClients) => Promise<void> = async () => {}) {
  let server: Awaited<ReturnType<typeof startDynaliteServer>> | undefined;
  let listening: (endpoint: string) => void = () => {};
  const endpoint = new Promise<string>((resolve) => {
    listening = resolve;
  });
  const client = localClient(() => endpoint);
  const clients: LocalDynamoClients = { client, documentClient: documentClientOf(client) };
  beforeAll(async () => {
    server = await startDynaliteServer();
    listening(server.endpoint);
    await prepare(clients);
  });
  afterAll(async () => {
    client.destroy();
    await server?.close();
  });
  return clients;
}

/**
 * Registers the file's hooks: the granule table `tableName`, laid out as the stack creates it, on an
 * in-memory dynalite that lives for the file; `store` is a GranuleStore on it with default options.
 */
export function useGranuleTable(tableName: string): GranuleTable {
  const clients = useLocalDynamo((started) => createGranuleTable(started.client, tableName));
  return { ...clients, tableName, store: new GranuleStore(clients.documentClient, { tableName }) };
}

/** Starts an in-memory dynalite on 127.0.0.1 with the granule table `tableName`; the caller closes it. */
export async function startGranuleTable(
  tableName: string,
): Promise<GranuleTable & { close(): Promise<void> }> {
  const dynamo = await startLocalDynamo();
  await createGranuleTable(dynamo.client, tableName);
  return {
    tableName,
    client: dynamo.client,
    documentClient: dynamo.documentClient,
    store: new GranuleStore(dynamo.documentClient, { tableName }),
    close: () => dynamo.close(),
  };
}
