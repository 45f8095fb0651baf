// The AWS SDK for JavaScript v3 against a real Nimbus, as a Node program would use it (no special
// configuration but S3's forcePathStyle: Node does not resolve bucket.localhost). Prints one JSON line per
// step, {"step", "ok", "value" | "error"}; exits 1 when a step fails. Run by tests/integration/sdk/test_js_sdk.py.
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, DeleteObjectsCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { FirehoseClient, CreateDeliveryStreamCommand, DescribeDeliveryStreamCommand, PutRecordBatchCommand } from "@aws-sdk/client-firehose";
import { KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand, ListShardsCommand, GetShardIteratorCommand, GetRecordsCommand, RegisterStreamConsumerCommand, DescribeStreamConsumerCommand, SubscribeToShardCommand, PutRecordCommand } from "@aws-sdk/client-kinesis";
import { LambdaClient, ListFunctionsCommand, GetFunctionCommand } from "@aws-sdk/client-lambda";
import { CloudWatchLogsClient, CreateLogGroupCommand, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { IAMClient, CreateRoleCommand, GetRoleCommand, ListRolesCommand, AttachRolePolicyCommand, ListAttachedRolePoliciesCommand, DeleteRoleCommand } from "@aws-sdk/client-iam";
import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand } from "@aws-sdk/client-sts";
import { randomBytes } from "crypto";

const cfg = { region: "us-east-2", endpoint: process.env.NIMBUS_ENDPOINT, credentials: { accessKeyId: process.env.NIMBUS_KEY, secretAccessKey: process.env.NIMBUS_SECRET } };
let failed = false;
const step = async (name, fn) => {
  const t0 = Date.now();
  try { const value = await fn(); console.log(JSON.stringify({ step: name, ok: true, value, ms: Date.now() - t0 })); }
  catch (e) { failed = true; console.log(JSON.stringify({ step: name, ok: false, error: `${e.name}: ${e.message}` })); }
};
const expectError = async (name, code, fn) => {
  try { await fn(); failed = true; console.log(JSON.stringify({ step: name, ok: false, error: "no error" })); }
  catch (e) { const ok = e.name === code; failed ||= !ok; console.log(JSON.stringify({ step: name, ok, value: e.name })); }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const s3 = new S3Client({ ...cfg, forcePathStyle: true });
await step("s3.CreateBucket", async () => { await s3.send(new CreateBucketCommand({ Bucket: "js-sdk" })); return "js-sdk"; });
await step("s3.PutObject", async () => (await s3.send(new PutObjectCommand({ Bucket: "js-sdk", Key: "a/one.txt", Body: "hello js" }))).ETag);
await step("s3.GetObject", async () => { const r = await s3.send(new GetObjectCommand({ Bucket: "js-sdk", Key: "a/one.txt", ChecksumMode: "ENABLED" })); const t = await r.Body.transformToString(); if (t !== "hello js") throw new Error(t); return t; });
const big = randomBytes(11 << 20);
await step("s3.Upload (multipart)", async () => (await new Upload({ client: s3, params: { Bucket: "js-sdk", Key: "big.bin", Body: big }, partSize: 5 << 20 }).done()).ETag);
await step("s3.GetObject big", async () => { const r = await s3.send(new GetObjectCommand({ Bucket: "js-sdk", Key: "big.bin" })); if (!Buffer.from(await r.Body.transformToByteArray()).equals(big)) throw new Error("bytes differ"); return big.length; });
await step("s3.ListObjectsV2", async () => (await s3.send(new ListObjectsV2Command({ Bucket: "js-sdk", Prefix: "a/" }))).KeyCount);
await step("s3.DeleteObjects", async () => (await s3.send(new DeleteObjectsCommand({ Bucket: "js-sdk", Delete: { Objects: [{ Key: "a/one.txt" }, { Key: "big.bin" }] } }))).Deleted.length);
await expectError("s3.GetObject missing", "NoSuchKey", () => s3.send(new GetObjectCommand({ Bucket: "js-sdk", Key: "nope" })));

const fh = new FirehoseClient(cfg);
await step("firehose.CreateDeliveryStream", async () => (await fh.send(new CreateDeliveryStreamCommand({ DeliveryStreamName: "js-sdk", ExtendedS3DestinationConfiguration: { RoleARN: "arn:aws:iam::000000000000:role/r", BucketARN: "arn:aws:s3:::js-sdk", BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 60 } } }))).DeliveryStreamARN);
await step("firehose ACTIVE", async () => { for (let i = 0; i < 100; i++) { const s = (await fh.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: "js-sdk" }))).DeliveryStreamDescription.DeliveryStreamStatus; if (s === "ACTIVE") return s; await sleep(100); } throw new Error("not ACTIVE"); });
await step("firehose.PutRecordBatch", async () => (await fh.send(new PutRecordBatchCommand({ DeliveryStreamName: "js-sdk", Records: [{ Data: Buffer.from("one\n") }, { Data: new Uint8Array([0, 1, 2]) }] }))).FailedPutCount);
await expectError("firehose unknown stream", "ResourceNotFoundException", () => fh.send(new PutRecordBatchCommand({ DeliveryStreamName: "missing", Records: [{ Data: Buffer.from("x") }] })));

const kin = new KinesisClient(cfg);  // HTTP/2 with prior knowledge, as this client always speaks
await step("kinesis.CreateStream (HTTP/2)", async () => { await kin.send(new CreateStreamCommand({ StreamName: "js-sdk", ShardCount: 1 })); return "js-sdk"; });
await step("kinesis ACTIVE", async () => { for (let i = 0; i < 100; i++) { const s = (await kin.send(new DescribeStreamSummaryCommand({ StreamName: "js-sdk" }))).StreamDescriptionSummary.StreamStatus; if (s === "ACTIVE") return s; await sleep(100); } throw new Error("not ACTIVE"); });
await step("kinesis.PutRecords", async () => (await kin.send(new PutRecordsCommand({ StreamName: "js-sdk", Records: [{ Data: Buffer.from("r1"), PartitionKey: "a" }, { Data: Buffer.from("r2"), PartitionKey: "b" }] }))).FailedRecordCount);
await step("kinesis.GetRecords", async () => {
  const shard = (await kin.send(new ListShardsCommand({ StreamName: "js-sdk" }))).Shards[0].ShardId;
  const it = (await kin.send(new GetShardIteratorCommand({ StreamName: "js-sdk", ShardId: shard, ShardIteratorType: "TRIM_HORIZON" }))).ShardIterator;
  const got = (await kin.send(new GetRecordsCommand({ ShardIterator: it }))).Records.map((r) => Buffer.from(r.Data).toString());
  if (got.join() !== "r1,r2") throw new Error(got.join());
  return got;
});
await step("kinesis.SubscribeToShard (event stream over HTTP/2)", async () => {
  const arn = (await kin.send(new DescribeStreamSummaryCommand({ StreamName: "js-sdk" }))).StreamDescriptionSummary.StreamARN;
  const consumer = (await kin.send(new RegisterStreamConsumerCommand({ StreamARN: arn, ConsumerName: "js-sdk" }))).Consumer;
  for (let i = 0; i < 100; i++) { if ((await kin.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }))).ConsumerDescription.ConsumerStatus === "ACTIVE") break; await sleep(100); }
  const shard = (await kin.send(new ListShardsCommand({ StreamName: "js-sdk" }))).Shards[0].ShardId;
  const out = await kin.send(new SubscribeToShardCommand({ ConsumerARN: consumer.ConsumerARN, ShardId: shard, StartingPosition: { Type: "LATEST" } }));
  setTimeout(() => kin.send(new PutRecordCommand({ StreamName: "js-sdk", PartitionKey: "a", Data: Buffer.from("live") })), 300);
  let events = 0;
  for await (const ev of out.EventStream) {
    const recs = (ev.SubscribeToShardEvent?.Records ?? []).map((r) => Buffer.from(r.Data).toString());
    if (recs.includes("live")) return recs;
    if (++events > 10) break;
  }
  throw new Error("the live record never came");
});

const lambda = new LambdaClient(cfg);
await step("lambda.ListFunctions", async () => (await lambda.send(new ListFunctionsCommand({}))).Functions.length);
await expectError("lambda unknown function", "ResourceNotFoundException", () => lambda.send(new GetFunctionCommand({ FunctionName: "nope" })));
const logs = new CloudWatchLogsClient(cfg);
await step("logs.CreateLogGroup", async () => { await logs.send(new CreateLogGroupCommand({ logGroupName: "/js/sdk" })); return "/js/sdk"; });
await step("logs.DescribeLogGroups", async () => (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/js/" }))).logGroups.map((g) => g.logGroupName));
// the query protocol (IAM, STS), from an SDK whose serializer is not botocore's
const iam = new IAMClient(cfg);
const trust = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] });
await step("iam.CreateRole", async () => (await iam.send(new CreateRoleCommand({ RoleName: "js-sdk-role", AssumeRolePolicyDocument: trust, Tags: [{ Key: "k", Value: "v" }, { Key: "k2", Value: "v2" }] }))).Role.Arn);
await step("iam.GetRole", async () => { const r = (await iam.send(new GetRoleCommand({ RoleName: "js-sdk-role" }))).Role; if (JSON.parse(decodeURIComponent(r.AssumeRolePolicyDocument)).Statement[0].Principal.Service !== "lambda.amazonaws.com" || r.Tags.length !== 2) throw new Error(JSON.stringify(r)); return r.RoleId; });
await step("iam.AttachRolePolicy", async () => { await iam.send(new AttachRolePolicyCommand({ RoleName: "js-sdk-role", PolicyArn: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" })); return (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: "js-sdk-role" }))).AttachedPolicies.map((p) => p.PolicyName); });
await step("iam.ListRoles", async () => (await iam.send(new ListRolesCommand({ MaxItems: 10 }))).Roles.map((r) => r.RoleName));
await expectError("iam.DeleteRole attached", "DeleteConflictException", () => iam.send(new DeleteRoleCommand({ RoleName: "js-sdk-role" })));
await expectError("iam.GetRole missing", "NoSuchEntityException", () => iam.send(new GetRoleCommand({ RoleName: "nope" })));
const sts = new STSClient(cfg);
await step("sts.GetCallerIdentity", async () => (await sts.send(new GetCallerIdentityCommand({}))).Arn);
await step("sts.AssumeRole, then a call with its keys", async () => {
  const c = (await sts.send(new AssumeRoleCommand({ RoleArn: "arn:aws:iam::000000000000:role/js-sdk-role", RoleSessionName: "js" }))).Credentials;
  const me = await new STSClient({ ...cfg, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken } }).send(new GetCallerIdentityCommand({}));
  if (me.Arn !== "arn:aws:sts::000000000000:assumed-role/js-sdk-role/js") throw new Error(me.Arn);
  return me.Arn;
});
process.exit(failed ? 1 : 0);
