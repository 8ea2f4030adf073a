import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { TABLE_SCHEMA } from "../../domain/granule";

/**
 * The CreateTable input for the granule table as the stack lays it out (pk, plus the sparse
 * (day, status) index projecting everything), for the embedded stores and the tests' dynalite.
 */
export function granuleTableDefinition(tableName: string): CreateTableCommandInput {
  const { partitionKey, statusIndex } = TABLE_SCHEMA;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: partitionKey, AttributeType: "S" },
      { AttributeName: statusIndex.partitionKey, AttributeType: "S" },
      { AttributeName: statusIndex.sortKey, AttributeType: "S" },
    ],
    KeySchema: [{ AttributeName: partitionKey, KeyType: "HASH" }],
    GlobalSecondaryIndexes: [
      {
        IndexName: statusIndex.name,
        KeySchema: [
          { AttributeName: statusIndex.partitionKey, KeyType: "HASH" },
          { AttributeName: statusIndex.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ],
  };
}
