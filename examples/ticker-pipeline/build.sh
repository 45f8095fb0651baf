#!/usr/bin/env bash
# The seed tutorial's ticker pipeline, built by hand with the AWS CLI (v1 or v2):
#
#   HTTP GET ─► API Gateway ─► producer (Lambda) ─► Firehose tm-delivery-stream ─► transform (Lambda) ─► S3
#
# Against Nimbus: eval "$(nimbus credentials)"  (sets AWS_ENDPOINT_URL and the keys), then ./build.sh
# Against another endpoint: set AWS_ENDPOINT_URL and credentials; against AWS itself leave AWS_ENDPOINT_URL
# unset and give a globally unique BUCKET. The two IAM roles are created as the console creates its default
# ones (or give ROLE_ARN / FIREHOSE_ROLE_ARN to use existing roles).
# Re-running is safe: existing functions, APIs, the bucket and the stream are updated or reused.
set -euo pipefail
cd "$(dirname "$0")"

REGION=${REGION:-us-east-2}                 # the producer's code names us-east-2
STREAM=tm-delivery-stream                   # ... and this stream
BUCKET=${BUCKET:-ticker-pipeline-bucket}
PRODUCER=${PRODUCER:-ticker-producer}
TRANSFORM=${TRANSFORM:-ticker-transform}
RUNTIME=${RUNTIME:-python3.8}               # the tutorial's runtime
ROLE_ARN=${ROLE_ARN:-}                      # the functions' execution role (created below when empty)
FIREHOSE_ROLE_ARN=${FIREHOSE_ROLE_ARN:-}    # the delivery stream's role (created below when empty)
BUFFER_SIZE_MB=${BUFFER_SIZE_MB:-1}         # the tutorial: "the lowest possible values (1MB, 60 seconds)"
BUFFER_INTERVAL=${BUFFER_INTERVAL:-60}      # 0 (zero buffering) is the smallest the current API allows
REQUESTS=${REQUESTS:-3}                     # how many times to call the producer's URL

BUILD=$(mkdir -p "${BUILD_DIR:-build}" && cd "${BUILD_DIR:-build}" && pwd)   # zips and downloaded objects

aws_() { aws --region "$REGION" "$@"; }
say() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------------------------------- zip
zipit() {  # zipit DIR -> "$BUILD/DIR.zip" holding DIR/lambda_function.py at the top
  rm -f "$BUILD/$1.zip"
  if command -v zip >/dev/null 2>&1; then
    (cd "$1" && zip -q -X "$BUILD/$1.zip" lambda_function.py)
  else
    python3 -m zipfile -c "$BUILD/$1.zip" "$1/lambda_function.py"
  fi
}

# ---------------------------------------------------------------------------------------- roles
# What the console's defaults create: Lambda's "Create a new role with basic Lambda permissions" and
# Firehose's "Create or update IAM role". Nimbus records IAM and does not evaluate it; AWS does.
role() {  # role NAME SERVICE_PRINCIPAL MANAGED_POLICY_ARN|- INLINE_POLICY_JSON|- -> prints the role's ARN
  local name=$1 principal=$2 managed=$3 inline=$4 arn
  if ! arn=$(aws iam get-role --role-name "$name" --query Role.Arn --output text 2>/dev/null); then
    arn=$(aws iam create-role --role-name "$name" --query Role.Arn --output text --assume-role-policy-document \
      "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"Service\": \"$principal\"}, \"Action\": \"sts:AssumeRole\"}]}")
  fi
  if [ "$managed" != - ]; then aws iam attach-role-policy --role-name "$name" --policy-arn "$managed"; fi
  if [ "$inline" != - ]; then aws iam put-role-policy --role-name "$name" --policy-name "$name-policy" --policy-document "$inline"; fi
  echo "$arn"
}

# ---------------------------------------------------------------------------------------- functions
deploy() {  # deploy NAME DIR [extra create/update-function-configuration options...] -> prints the ARN
  local name=$1 dir=$2
  shift 2
  zipit "$dir"
  if aws_ lambda get-function --function-name "$name" >/dev/null 2>&1; then
    aws_ lambda update-function-code --function-name "$name" --zip-file "fileb://$BUILD/$dir.zip" >/dev/null
    aws_ lambda wait function-updated-v2 --function-name "$name"
    aws_ lambda update-function-configuration --function-name "$name" --runtime "$RUNTIME" \
      --handler lambda_function.lambda_handler "$@" >/dev/null
    aws_ lambda wait function-updated-v2 --function-name "$name"
  else
    aws_ lambda create-function --function-name "$name" --runtime "$RUNTIME" \
      --handler lambda_function.lambda_handler --role "$ROLE_ARN" --zip-file "fileb://$BUILD/$dir.zip" "$@" >/dev/null
    aws_ lambda wait function-active-v2 --function-name "$name"
  fi
  aws_ lambda get-function-configuration --function-name "$name" --query FunctionArn --output text
}

# ---------------------------------------------------------------------------------------- HTTP trigger
# What the console's "Add trigger -> API Gateway (REST, security Open)" creates; on Nimbus
# `nimbus trigger http NAME` does the same in one command.
trigger() {  # trigger NAME FUNCTION_ARN -> prints the invoke URL (.../default/NAME)
  local name=$1 fn_arn=$2 api_id root_id res_id account
  account=$(cut -d: -f5 <<<"$fn_arn")
  api_id=$(aws_ apigateway get-rest-apis --query "items[?name=='$name-API'].id | [0]" --output text)
  if [ -z "$api_id" ] || [ "$api_id" = None ]; then
    api_id=$(aws_ apigateway create-rest-api --name "$name-API" --endpoint-configuration types=REGIONAL --query id --output text)
    root_id=$(aws_ apigateway get-resources --rest-api-id "$api_id" --query "items[?path=='/'].id | [0]" --output text)
    res_id=$(aws_ apigateway create-resource --rest-api-id "$api_id" --parent-id "$root_id" --path-part "$name" --query id --output text)
    aws_ apigateway put-method --rest-api-id "$api_id" --resource-id "$res_id" --http-method ANY \
      --authorization-type NONE >/dev/null
    aws_ apigateway put-integration --rest-api-id "$api_id" --resource-id "$res_id" --http-method ANY \
      --type AWS_PROXY --integration-http-method POST \
      --uri "arn:aws:apigateway:$REGION:lambda:path/2015-03-31/functions/$fn_arn/invocations" >/dev/null
    aws_ apigateway create-deployment --rest-api-id "$api_id" --stage-name default >/dev/null
    aws_ lambda add-permission --function-name "$name" --statement-id "apigateway-$api_id" \
      --action lambda:InvokeFunction --principal apigateway.amazonaws.com \
      --source-arn "arn:aws:execute-api:$REGION:$account:$api_id/*/*/$name" >/dev/null
  fi
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then
    echo "${AWS_ENDPOINT_URL%/}/_aws/execute-api/$api_id/default/$name"   # Nimbus's path form (no DNS needed)
  else
    echo "https://$api_id.execute-api.$REGION.amazonaws.com/default/$name"
  fi
}

# ---------------------------------------------------------------------------------------- build
say "IAM roles"
if [ -z "$ROLE_ARN" ]; then
  ROLE_ARN=$(role ticker-pipeline-lambda lambda.amazonaws.com arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole \
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": "*"}]}')
fi
if [ -z "$FIREHOSE_ROLE_ARN" ]; then
  FIREHOSE_POLICY=$(cat <<EOF
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
   "s3:ListBucketMultipartUploads", "s3:PutObject"], "Resource": ["arn:aws:s3:::$BUCKET", "arn:aws:s3:::$BUCKET/*"]},
  {"Effect": "Allow", "Action": ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
   "Resource": "arn:aws:lambda:$REGION:*:function:$TRANSFORM*"}]}
EOF
)
  FIREHOSE_ROLE_ARN=$(role ticker-pipeline-firehose firehose.amazonaws.com - "$FIREHOSE_POLICY")
fi
echo "$ROLE_ARN"
echo "$FIREHOSE_ROLE_ARN"

say "bucket s3://$BUCKET"
aws_ s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1 || aws_ s3 mb "s3://$BUCKET"

say "transformation function $TRANSFORM (timeout 60 s: Firehose wants at least one minute)"
TRANSFORM_ARN=$(deploy "$TRANSFORM" transform --timeout 60)
echo "$TRANSFORM_ARN"

say "delivery stream $STREAM (Lambda transform on, buffer ${BUFFER_SIZE_MB} MB / ${BUFFER_INTERVAL} s)"
DESTINATION=$(cat <<EOF
{
  "RoleARN": "$FIREHOSE_ROLE_ARN",
  "BucketARN": "arn:aws:s3:::$BUCKET",
  "BufferingHints": {"SizeInMBs": $BUFFER_SIZE_MB, "IntervalInSeconds": $BUFFER_INTERVAL},
  "CompressionFormat": "UNCOMPRESSED",
  "ProcessingConfiguration": {
    "Enabled": true,
    "Processors": [{"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": "$TRANSFORM_ARN"}]}]
  }
}
EOF
)
if aws_ firehose describe-delivery-stream --delivery-stream-name "$STREAM" >/dev/null 2>&1; then
  read -r VERSION DEST_ID <<<"$(aws_ firehose describe-delivery-stream --delivery-stream-name "$STREAM" \
    --query 'DeliveryStreamDescription.[VersionId, Destinations[0].DestinationId]' --output text)"
  aws_ firehose update-destination --delivery-stream-name "$STREAM" --current-delivery-stream-version-id "$VERSION" \
    --destination-id "$DEST_ID" --extended-s3-destination-update "$DESTINATION"
  echo "updated"
else
  aws_ firehose create-delivery-stream --delivery-stream-name "$STREAM" --delivery-stream-type DirectPut \
    --extended-s3-destination-configuration "$DESTINATION" --query DeliveryStreamARN --output text
fi
for _ in $(seq 1 300); do
  status=$(aws_ firehose describe-delivery-stream --delivery-stream-name "$STREAM" \
    --query DeliveryStreamDescription.DeliveryStreamStatus --output text)
  [ "$status" = ACTIVE ] && break
  sleep 1
done
echo "$STREAM is $status"

say "producer function $PRODUCER (the tutorial's code) behind an HTTP trigger"
PRODUCER_ARN=$(deploy "$PRODUCER" producer)
URL=$(trigger "$PRODUCER" "$PRODUCER_ARN")
echo "URL: $URL"

# What is in the bucket before we send anything (so that we wait only for our own records).
existing_keys() { aws_ s3api list-objects-v2 --bucket "$BUCKET" --query 'Contents[].Key' --output text | tr '\t' '\n' | grep -v '^None$' | sort || true; }
existing_keys > "$BUILD/keys.before"

say "calling the producer's URL $REQUESTS times"
for i in $(seq 1 "$REQUESTS"); do
  echo "$i: $(curl -fsS "$URL")"
done

say "one more record straight into the stream (firehose put-record)"
cat > "$BUILD/put-record.json" <<EOF
{"DeliveryStreamName": "$STREAM", "Record": {"Data": "{\"ticker_symbol\": \"NMB\", \"sector\": \"TECHNOLOGY\", \"change\": 0.01, \"price\": 1.0}"}}
EOF
BINARY_FORMAT=()
if aws --version 2>&1 | grep -q '^aws-cli/2'; then BINARY_FORMAT=(--cli-binary-format raw-in-base64-out); fi
aws_ firehose put-record ${BINARY_FORMAT[@]+"${BINARY_FORMAT[@]}"} --cli-input-json "file://$BUILD/put-record.json" --query RecordId --output text
EXPECTED=$((REQUESTS + 1))

say "waiting for the buffer to flush (interval ${BUFFER_INTERVAL} s) and the transformed records to land in s3://$BUCKET/"
rm -rf "$BUILD/out" && mkdir -p "$BUILD/out"
deadline=$(( $(date +%s) + BUFFER_INTERVAL + 90 ))
while :; do
  existing_keys > "$BUILD/keys.now"
  comm -13 "$BUILD/keys.before" "$BUILD/keys.now" > "$BUILD/keys.new"
  while read -r key; do
    f="$BUILD/out/$(tr '/' '_' <<<"$key")"
    [ -f "$f" ] || aws_ s3 cp --quiet "s3://$BUCKET/$key" "$f"
  done < "$BUILD/keys.new"
  got=$(cat "$BUILD"/out/* 2>/dev/null | grep -c . || true)
  [ "$got" -ge "$EXPECTED" ] && break
  if [ "$(date +%s)" -gt "$deadline" ]; then
    echo "only $got of $EXPECTED records arrived in time" >&2
    exit 1
  fi
  printf '  %s of %s records delivered, %ss left\r' "$got" "$EXPECTED" $(( deadline - $(date +%s) ))
  sleep 2
done
echo "  $got of $EXPECTED records delivered"

say "aws s3 ls --recursive s3://$BUCKET/ (new objects)"
aws_ s3 ls --recursive "s3://$BUCKET/" | grep -F -f "$BUILD/keys.new"
say "the transformed records"
while read -r key; do
  echo "# s3://$BUCKET/$key"
  cat "$BUILD/out/$(tr '/' '_' <<<"$key")"
done < "$BUILD/keys.new"
