import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * The one document client over a DynamoDB client, for Lambda, the local runner, the ops CLI and the
 * benchmarks alike (as Powertools' `commons/clients/dynamodb.ts`): optional fields left undefined
 * are dropped, not refused.
 */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
