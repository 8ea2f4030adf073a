import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { type GranuleRecord, type Platform, TABLE_SCHEMA } from "../../domain/granule";
import { asAwsFailure } from "../aws-failure";

/**
 * The granule table as every store module reaches it: the document client, the table and the
 * settings GranuleStore checked once in its constructor.
 */
export interface StoreTable {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** How long a DOWNLOADING claim lasts before another worker may take it over. */
  readonly leaseMs: number;
  /** Attempts after which a FAILED granule is no longer pending. */
  readonly maxAttempts: number;
  readonly now: () => Date;
}

export const PK = TABLE_SCHEMA.partitionKey;
export const INDEX = TABLE_SCHEMA.statusIndex;

export type Item = Record<string, unknown>;

export function granuleKey(granuleId: string) {
  return { [PK]: `granule#${granuleId}` };
}

export function fetchKey(day: string, platform: Platform) {
  return { [PK]: `fetch#${day}#${platform}` };
}

export function toRecord(item: Item): GranuleRecord {
  // discoveredBy only tells a retried put its own item (recordDiscovered).
  const { [PK]: _key, discoveredBy: _put, ...record } = item;
  return record as unknown as GranuleRecord;
}

/** Every attribute in an expression goes through a `#name` placeholder: DynamoDB reserves words like status, day, name. */
export function attributeNames(...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [`#${name}`, name]));
}

export function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/**
 * Rethrows an SDK failure with what we were doing: throttling and 5xx that outlived the SDK's retries
 * as the retryable AwsUnavailableError, anything else under its own name (see asAwsFailure).
 */
export function withContext(error: unknown, context: string): Error {
  return asAwsFailure(error, context);
}

/** Runs a conditional UpdateItem; the new record, or undefined when the condition failed. */
export async function conditionalUpdate(
  table: StoreTable,
  context: string,
  input: Omit<UpdateCommandInput, "TableName" | "ReturnValues">,
): Promise<GranuleRecord | undefined> {
  try {
    const { Attributes: item } = await table.client.send(
      new UpdateCommand({ ...input, TableName: table.tableName, ReturnValues: "ALL_NEW" }),
    );
    return toRecord(item ?? {});
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw withContext(error, context);
  }
}

export async function query(table: StoreTable, context: string, input: Omit<QueryCommandInput, "TableName">) {
  try {
    return await table.client.send(new QueryCommand({ ...input, TableName: table.tableName }));
  } catch (error) {
    throw withContext(error, context);
  }
}
