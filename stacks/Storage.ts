import { uploadBucketNameParameter } from "@hls-s2/core/config";
import { TABLE_SCHEMA } from "@hls-s2/core/domain";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as ssm from "aws-cdk-lib/aws-ssm";
import { NagSuppressions } from "cdk-nag";
import type { Construct } from "constructs";
import type { StackContext } from "sst/constructs";
import { type StageSettings, useStageSettings } from "./settings";

/** What the other stacks bind to: the granule table, both buckets and the hub credential secrets. */
export interface StorageResources {
  table: dynamodb.Table;
  /**
   * Created here, or imported by name when UPLOAD_BUCKET_NAME is set. Other stacks do not use it:
   * they call useUploadBucket, which reads the name Storage publishes, so no export ties them to it.
   */
  uploadBucket: s3.IBucket;
  workBucket: s3.Bucket;
  hubSecret: secretsmanager.Secret;
  /** Only for a separate DHuS download hub (IntHub2), which has its own account. */
  downloadHubSecret?: secretsmanager.Secret;
}

/** The granule table, the upload and work buckets, and the hub credential secrets. */
export function Storage({ stack, app }: StackContext): StorageResources {
  const settings = useStageSettings(app);
  const removalPolicy = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

  const table = new dynamodb.Table(stack, "Granules", {
    partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: settings.retainData,
    removalPolicy,
  });
  table.addGlobalSecondaryIndex({
    indexName: TABLE_SCHEMA.statusIndex.name,
    partitionKey: { name: TABLE_SCHEMA.statusIndex.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TABLE_SCHEMA.statusIndex.sortKey, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.ALL,
  });

  const protectedBucket = {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    encryption: s3.BucketEncryption.S3_MANAGED,
    removalPolicy,
    // Ephemeral stages must be removable even with granules inside.
    autoDeleteObjects: !settings.retainData,
  };
  // A crashed transfer leaves parts that cost storage and are invisible in listings.
  const abortIncompleteUploads: s3.LifecycleRule = {
    id: "abort-incomplete-multipart-uploads",
    abortIncompleteMultipartUploadAfter: Duration.days(2),
  };

  const uploadBucket: s3.IBucket =
    settings.uploadBucketName === undefined
      ? new s3.Bucket(stack, "UploadBucket", { ...protectedBucket, lifecycleRules: [abortIncompleteUploads] })
      : s3.Bucket.fromBucketAttributes(stack, "UploadBucket", {
          bucketName: settings.uploadBucketName,
          ...(settings.uploadBucketRegion !== undefined && { region: settings.uploadBucketRegion }),
        });
  // The one place the other stacks learn the upload bucket's name (see useUploadBucket).
  new ssm.StringParameter(stack, "UploadBucketNameParameter", {
    parameterName: uploadBucketNameParameter(app.stage),
    stringValue: uploadBucket.bucketName,
    description: "Upload bucket name, read at deploy time by the Workflow and Push stacks",
  });

  const workBucket = new s3.Bucket(stack, "WorkBucket", {
    ...protectedBucket,
    // Manifests and Map results matter for a week of redrives, not forever.
    lifecycleRules: [abortIncompleteUploads, { id: "expire-work-objects", expiration: Duration.days(30) }],
  });

  // Created with a placeholder username: `aws secretsmanager put-secret-value` sets the real pair.
  const placeholderCredentials = {
    secretStringTemplate: JSON.stringify({ username: "REPLACE_ME" }),
    generateStringKey: "password",
    excludePunctuation: true,
  };
  const hubSecret = new secretsmanager.Secret(stack, "HubCredentials", {
    description: `HLS S2 downloader (${app.stage}): search hub {"username","password"}`,
    generateSecretString: placeholderCredentials,
    removalPolicy,
  });
  const downloadHubSecret =
    settings.hubKind === "dhus" && settings.downloadHubUrl !== undefined
      ? new secretsmanager.Secret(stack, "DownloadHubCredentials", {
          description: `HLS S2 downloader (${app.stage}): download hub {"username","password"}`,
          generateSecretString: placeholderCredentials,
          removalPolicy,
        })
      : undefined;

  NagSuppressions.addResourceSuppressions(
    [workBucket, ...(uploadBucket instanceof s3.Bucket ? [uploadBucket] : [])],
    [
      {
        id: "AwsSolutions-S1",
        reason:
          "Server access logs would need a third bucket for data that is public (Sentinel-2 L1C) or derived (manifests, Map results); every write is by our own roles, and CloudTrail data events are the audit trail if one is needed",
      },
    ],
  );
  NagSuppressions.addResourceSuppressions(
    [hubSecret, ...(downloadHubSecret ? [downloadHubSecret] : [])],
    [
      {
        id: "AwsSolutions-SMG4",
        reason:
          "The hub credentials are the password of an ESA/Copernicus account: Secrets Manager cannot rotate a password that another organisation's identity provider owns; the operator changes it there and puts the new pair in",
      },
    ],
  );

  stack.addOutputs({
    TableName: table.tableName,
    UploadBucketName: uploadBucket.bucketName,
    WorkBucketName: workBucket.bucketName,
    HubSecretArn: hubSecret.secretArn,
    ...(downloadHubSecret && { DownloadHubSecretArn: downloadHubSecret.secretArn }),
  });

  return { table, uploadBucket, workBucket, hubSecret, ...(downloadHubSecret && { downloadHubSecret }) };
}

/**
 * The upload bucket as seen from another stack: its name is read at deploy time from the SSM
 * parameter Storage writes (a CloudFormation parameter of type AWS::SSM::Parameter::Value<String>),
 * not imported from an export. CloudFormation: "After another stack imports an output value, you
 * can't delete the stack that is exporting the output value or modify the exported output value."
 * Switching UPLOAD_BUCKET_NAME on after the first deploy would do exactly that to the bucket's name.
 */
export function useUploadBucket(
  scope: Construct,
  settings: Pick<StageSettings, "stage" | "uploadBucketRegion">,
): s3.IBucket {
  return s3.Bucket.fromBucketAttributes(scope, "UploadBucket", {
    bucketName: ssm.StringParameter.valueForStringParameter(scope, uploadBucketNameParameter(settings.stage)),
    ...(settings.uploadBucketRegion !== undefined && { region: settings.uploadBucketRegion }),
  });
}
