"use strict";
// Amazon Data Firehose: delivery streams (list, create, detail with monitoring, demo data, flush, edit, delete).
// Every action is a Firehose / S3 / Lambda / Kinesis / IAM API call; "Flush buffer now" and the monitoring
// figures are Nimbus's own endpoints (POST /_nimbus/firehose/flush/..., GET /_nimbus/firehose/streams).
(function () {
  const N = window.Nimbus;
  const h = N.h;
  const COMPRESSIONS = [["UNCOMPRESSED", "Not enabled (UNCOMPRESSED)"], ["GZIP", "GZIP"], ["ZIP", "ZIP"], ["Snappy", "Snappy"], ["HADOOP_SNAPPY", "Hadoop-compatible Snappy"]];
  const SECTORS = ["TECHNOLOGY", "ENERGY", "FINANCIAL", "HEALTHCARE", "RETAIL", "MANUFACTURING"];
  const TICKERS = ["HJK", "QXZ", "NMB", "ALY", "WMT", "KIN", "ASD", "JYB", "TGT", "CRM", "SLW", "PJN"];

  const bucketOf = (arn) => String(arn || "").replace(/^arn:[^:]+:s3:::/, "");
  const streamHref = (name) => "#/firehose/streams/" + N.q(name);
  const rand = (n) => { const a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"; let s = ""; for (let i = 0; i < n; i++) s += a[Math.floor(Math.random() * a.length)]; return s; };
  const num = (el) => Number(String(el.value).trim());
  const show = (el, on) => { el.style.display = on ? "" : "none"; };

  async function listStreamNames() {
    let names = [], start = null;
    for (let i = 0; i < 100; i++) {
      const p = { Limit: 10000 };
      if (start) p.ExclusiveStartDeliveryStreamName = start;
      const page = await N.api("firehose", "ListDeliveryStreams", p);
      names = names.concat(page.DeliveryStreamNames || []);
      if (!page.HasMoreDeliveryStreams || !names.length) break;
      start = names[names.length - 1];
    }
    return names;
  }
  const describe = async (name) => (await N.api("firehose", "DescribeDeliveryStream", { DeliveryStreamName: name })).DeliveryStreamDescription;
  const s3Of = (desc) => {
    const d = (desc.Destinations || [])[0] || {};
    return d.ExtendedS3DestinationDescription || d.S3DestinationDescription || null;
  };
  function sourceText(desc, linked) {
    const k = desc.Source && desc.Source.KinesisStreamSourceDescription;
    if (!k) return "Direct PUT";
    const name = N.arnName(k.KinesisStreamARN);
    return linked ? ["Kinesis data stream ", N.link("#/kinesis/streams/" + N.q(name), name)] : "Kinesis data stream " + name;
  }
  function destinationBucket(desc) {
    const s3 = s3Of(desc);
    if (s3) { const b = bucketOf(s3.BucketARN); return N.link("#/s3/buckets/" + N.q(b), b, { class: "fh-bucket-link" }); }
    const d = (desc.Destinations || [])[0] || {};
    if (d.HttpEndpointDestinationDescription) return "HTTP endpoint " + ((d.HttpEndpointDestinationDescription.EndpointConfiguration || {}).Url || "");
    return "-";
  }
  function lambdaProcessor(s3) {
    const pc = s3 && s3.ProcessingConfiguration;
    if (!pc || !pc.Enabled) return null;
    const p = (pc.Processors || []).find((x) => x.Type === "Lambda");
    if (!p) return null;
    const params = {};
    (p.Parameters || []).forEach((x) => { params[x.ParameterName] = x.ParameterValue; });
    return params;
  }
  const statusBadge = (s) => h("span", { class: "badge" + (s === "ACTIVE" ? " ok" : /FAILED/.test(s || "") ? " bad" : "") }, s || "-");

  // --- list ------------------------------------------------------------------------------------
  N.route("/firehose", async (view) => {
    const names = await listStreamNames();
    const descs = (await Promise.all(names.map(async (n) => { try { return await describe(n); } catch (e) { return { DeliveryStreamName: n, DeliveryStreamStatus: "?", error: e }; } })))
      .filter((d) => !(d.error && d.error.code === "ResourceNotFoundException"));  // deleted since the listing
    const err = h("div", { id: "fh-list-error" });
    const del = async (name) => {
      if (!(await N.confirm("Delete Firehose stream " + name + "? Records still in its buffer are lost."))) return;
      N.clear(err);
      try {
        await N.api("firehose", "DeleteDeliveryStream", { DeliveryStreamName: name });
        N.toast("Deleting " + name);
        N.render();
      } catch (e) { err.appendChild(N.errorBox(e)); }
    };
    view.appendChild(N.page("Firehose streams", {
      actions: [N.button("Create Firehose stream", async () => N.go("#/firehose/create"), { kind: "primary", id: "fh-create" })],
    },
    h("p", { class: "muted" }, "Amazon Data Firehose delivers streaming records to a destination (here Amazon S3), optionally transformed by a Lambda function. Region " + N.state.region + "."),
    err,
    N.table([
      { title: "Name", get: (d) => N.link(streamHref(d.DeliveryStreamName), d.DeliveryStreamName, { class: "fh-stream-link" }) },
      { title: "Status", get: (d) => statusBadge(d.DeliveryStreamStatus) },
      { title: "Source", get: (d) => d.error ? "-" : sourceText(d) },
      { title: "Destination", get: (d) => d.error ? N.describe(d.error) : destinationBucket(d) },
      { title: "Data transformation", get: (d) => { const p = d.error ? null : lambdaProcessor(s3Of(d)); return p ? N.arnName(p.LambdaArn.replace(/:\$LATEST$|:\d+$/, "")) : "Disabled"; } },
      { title: "Created", get: (d) => N.fmt.time(d.CreateTimestamp) },
      { title: "", get: (d) => N.button("Delete", () => del(d.DeliveryStreamName), { kind: "danger", id: "fh-delete-" + d.DeliveryStreamName }) },
    ], descs, { id: "fh-streams", empty: "No Firehose streams in " + N.state.region + ". Create one to deliver records to S3." })));
    // while a stream is being created or deleted, refresh the list when that changes
    if (descs.some((d) => /ING$/.test(d.DeliveryStreamStatus || ""))) {
      const serial = N.current();
      const before = JSON.stringify(descs.map((d) => [d.DeliveryStreamName, d.DeliveryStreamStatus]));
      const poll = N.every(1500, async () => {
        try {
          const now = await Promise.all((await listStreamNames()).map(async (n) => [n, (await describe(n).catch(() => ({}))).DeliveryStreamStatus]));
          if (JSON.stringify(now) !== before && serial === N.current()) { clearInterval(poll); N.render(); }
        } catch (e) { clearInterval(poll); }
      });
    }
  });

  // --- create ----------------------------------------------------------------------------------
  N.route("/firehose/create", async (view) => {
    const region = N.state.region;
    const [buckets, functions, kstreams, roles] = await Promise.all([
      N.api("s3", "ListBuckets", {}).then((r) => r.Buckets || []).catch(() => []),
      N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions").catch(() => []),
      N.api("kinesis", "ListStreams", {}).then((r) => r.StreamSummaries || []).catch(() => []),
      N.paginate("iam", "ListRoles", {}, "Marker", "Marker", "Roles").catch(() => []),
    ]);
    const err = h("div", { id: "fh-error" });

    // source and name
    const source = N.select([["DirectPut", "Direct PUT"], ["KinesisStreamAsSource", "Amazon Kinesis Data Streams"]], "DirectPut", { id: "fh-source" });
    const kstream = N.select(kstreams.length ? kstreams.map((s) => [s.StreamARN, s.StreamName]) : [["", "No Kinesis data streams in " + region]], null, { id: "fh-source-stream" });
    const kstreamField = N.field("Kinesis data stream", kstream, h("span", {}, "Firehose reads the stream from TRIM_HORIZON. ", N.link("#/kinesis", "Create a data stream")));
    const suffix = rand(5);
    const defaultName = () => (source.value === "DirectPut" ? "PUT-S3-" : "KDS-S3-") + suffix;
    const name = N.input({ id: "fh-name", value: defaultName(), maxlength: 64 });
    let nameEdited = false;
    name.addEventListener("input", () => { nameEdited = true; updateRoleName(); });
    const syncSource = () => {
      show(kstreamField, source.value === "KinesisStreamAsSource");
      if (!nameEdited) name.value = defaultName();
      updateRoleName();
    };
    source.addEventListener("change", syncSource);

    // transform
    const transform = h("input", { type: "checkbox", id: "fh-transform" });
    const fnSelect = N.select(functions.length ? functions.map((f) => [f.FunctionArn, f.FunctionName]) : [["", "No Lambda functions in " + region]], null, { id: "fh-function" });
    const versionSelect = N.select(["$LATEST"], "$LATEST", { id: "fh-function-version" });
    const loadVersions = async () => {
      const arn = fnSelect.value;
      N.clear(versionSelect).appendChild(h("option", { value: "$LATEST" }, "$LATEST"));
      if (!arn) return;
      try {
        const vs = await N.paginate("lambda", "ListVersionsByFunction", { FunctionName: arn }, "Marker", "NextMarker", "Versions");
        vs.filter((v) => v.Version !== "$LATEST").forEach((v) => versionSelect.appendChild(h("option", { value: v.Version }, v.Version)));
      } catch (e) { /* versions are optional */ }
    };
    // the seed tutorial's step: "Kinesis requires at least a timeout of one minute" (AWS's console warns too)
    const timeoutNote = h("div", { id: "fh-function-timeout" });
    const checkTimeout = () => {
      N.clear(timeoutNote);
      const f = functions.find((x) => x.FunctionArn === fnSelect.value);
      if (f && f.Timeout < 60) {
        timeoutNote.appendChild(h("div", { class: "error" }, "The function's timeout is " + f.Timeout + " seconds. Firehose needs at least 1 minute for a transform: ",
          N.link("#/lambda/functions/" + N.q(f.FunctionName), "raise it on the function's page"), "."));
      }
    };
    fnSelect.addEventListener("change", () => { loadVersions(); updateRoleName(); checkTimeout(); });
    checkTimeout();
    const procSize = N.input({ id: "fh-proc-buffer-size", type: "number", min: "0.2", max: "3", step: "0.1", value: "1" });
    const procInterval = N.input({ id: "fh-proc-buffer-interval", type: "number", min: "0", max: "900", value: "60" });
    const transformBox = h("div", { id: "fh-transform-options" },
      N.field("AWS Lambda function", fnSelect, h("span", {}, "The function gets batches of base64 records and returns each with result Ok, Dropped or ProcessingFailed (a timeout of at least 1 minute is advised). ", N.link("#/lambda", "Create a function"))),
      timeoutNote,
      N.field("Function version", versionSelect),
      N.field("Buffer size (MiB)", procSize, "How much data Firehose buffers before invoking the function: 0.2 to 3 MiB (default 1)."),
      N.field("Buffer interval (seconds)", procInterval, "How long Firehose buffers before invoking the function: 0 to 900 seconds (default 60)."));
    const syncTransform = () => show(transformBox, transform.checked);
    transform.addEventListener("change", () => { syncTransform(); updateRoleName(); });

    // destination
    const bucket = N.select([], null, { id: "fh-bucket" });
    const fillBuckets = (list, chosen) => {
      N.clear(bucket);
      if (!list.length) bucket.appendChild(h("option", { value: "" }, "No buckets: create one"));
      list.forEach((b) => bucket.appendChild(h("option", { value: b.Name }, b.Name)));
      if (chosen) bucket.value = chosen;
    };
    fillBuckets(buckets);
    const createBucket = N.button("Create bucket", async () => {
      const bname = N.input({ id: "fh-new-bucket-name", value: ("firehose-" + name.value).toLowerCase().replace(/[^a-z0-9.-]/g, "-").slice(0, 63) });
      N.modal("Create S3 bucket", h("div", {}, N.field("Bucket name", bname, "3 to 63 lowercase letters, numbers, dots and hyphens; created in " + region + ".")), [{
        text: "Create bucket", kind: "primary", id: "fh-new-bucket-submit", onclick: async () => {
          const p = { Bucket: bname.value.trim() };
          if (region !== "us-east-1") p.CreateBucketConfiguration = { LocationConstraint: region };
          await N.api("s3", "CreateBucket", p);
          fillBuckets((await N.api("s3", "ListBuckets", {})).Buckets || [], p.Bucket);
          N.toast("Created bucket " + p.Bucket);
        },
      }]);
    }, { id: "fh-bucket-create" });
    const prefix = N.input({ id: "fh-prefix", placeholder: "YYYY/MM/DD/HH/ (default)" });
    const errorPrefix = N.input({ id: "fh-error-prefix", placeholder: "processing-failed/ ... (default)" });
    const size = N.input({ id: "fh-buffer-size", type: "number", min: "1", max: "128", value: "5" });
    const interval = N.input({ id: "fh-buffer-interval", type: "number", min: "0", max: "900", value: "300" });
    const compression = N.select(COMPRESSIONS, "UNCOMPRESSED", { id: "fh-compression" });
    const errorLogging = h("input", { type: "checkbox", id: "fh-error-logging", checked: true });

    // role
    const roleMode = N.select([["create", "Create a new IAM role"], ["existing", "Choose an existing IAM role"]], "create", { id: "fh-role-mode" });
    const firehoseRoles = roles.filter((r) => JSON.stringify(r.AssumeRolePolicyDocument || "").includes("firehose.amazonaws.com"));
    const roleOptions = (firehoseRoles.length ? firehoseRoles : roles).map((r) => [r.Arn, r.RoleName]);
    const roleSelect = N.select(roleOptions.length ? roleOptions : [["", "No roles"]], null, { id: "fh-role" });
    const roleStamp = Date.now();
    const roleName = h("code", { id: "fh-role-name" });
    const newRoleName = () => {
      const tail = "-" + region + "-" + roleStamp;
      const head = "KinesisFirehoseServiceRole-";
      return head + (name.value.trim() || "stream").slice(0, Math.max(1, 64 - head.length - tail.length)) + tail;
    };
    function updateRoleName() { roleName.textContent = newRoleName(); }
    const roleNew = h("p", { class: "muted" }, "Firehose will create ", roleName, " trusting firehose.amazonaws.com, with an inline policy for the bucket", " (and the function and stream when chosen).");
    const roleExisting = N.field("IAM role", roleSelect, "Firehose assumes this role to write to the bucket and invoke the function.");
    const syncRole = () => { show(roleNew, roleMode.value === "create"); show(roleExisting, roleMode.value === "existing"); };
    roleMode.addEventListener("change", syncRole);

    const submit = N.button("Create Firehose stream", async () => {
      N.clear(err);
      try {
        const created = await createStream();
        N.toast("Creating Firehose stream " + created);
        N.go(streamHref(created));
      } catch (e) {
        err.appendChild(N.errorBox(e));
        err.scrollIntoView({ block: "center" });
      }
    }, { kind: "primary", id: "fh-submit" });

    async function createStream() {
      const streamName = name.value.trim();
      const bad = (m) => { const e = new Error(m); e.code = "ValidationError"; return e; };
      if (!/^[a-zA-Z0-9_.-]{1,64}$/.test(streamName)) throw bad("The Firehose stream name must be 1 to 64 letters, numbers, hyphens, underscores or periods.");
      if (!bucket.value) throw bad("Choose a destination S3 bucket (or create one).");
      const sz = num(size), iv = num(interval);
      if (!Number.isInteger(sz) || sz < 1 || sz > 128) throw bad("Buffer size must be a whole number of MiB from 1 to 128.");
      if (!Number.isInteger(iv) || iv < 0 || iv > 900) throw bad("Buffer interval must be a whole number of seconds from 0 to 900.");
      const isKinesis = source.value === "KinesisStreamAsSource";
      if (isKinesis && !kstream.value) throw bad("Choose a Kinesis data stream as the source.");
      let fnArn = null;
      if (transform.checked) {
        if (!fnSelect.value) throw bad("Choose the Lambda function that transforms the records.");
        fnArn = fnSelect.value + ":" + versionSelect.value;
        const ps = num(procSize), pi = num(procInterval);
        if (!(ps >= 0.2 && ps <= 3)) throw bad("The transform's buffer size must be from 0.2 to 3 MiB.");
        if (!Number.isInteger(pi) || pi < 0 || pi > 900) throw bad("The transform's buffer interval must be from 0 to 900 seconds.");
      }
      const bucketArn = "arn:aws:s3:::" + bucket.value;
      let roleArn = roleSelect.value, createdRole = null;
      if (roleMode.value === "create") {
        createdRole = newRoleName();
        roleArn = await createRole(createdRole, bucketArn, fnSelect.value && transform.checked ? fnSelect.value : null, isKinesis ? kstream.value : null);
      } else if (!roleArn) throw bad("Choose an IAM role, or let Firehose create one.");
      const dest = {
        RoleARN: roleArn, BucketARN: bucketArn,
        BufferingHints: { SizeInMBs: sz, IntervalInSeconds: iv },
        CompressionFormat: compression.value,
      };
      if (prefix.value.trim()) dest.Prefix = prefix.value.trim();
      if (errorPrefix.value.trim()) dest.ErrorOutputPrefix = errorPrefix.value.trim();
      if (errorLogging.checked) {
        // as AWS's console: the group /aws/kinesisfirehose/<name> with its DestinationDelivery and BackupDelivery streams
        const group = "/aws/kinesisfirehose/" + streamName;
        const quiet = async (op, p) => {
          try { await N.api("logs", op, p); } catch (e) { if (e.code !== "ResourceAlreadyExistsException") throw e; }
        };
        await quiet("CreateLogGroup", { logGroupName: group });
        await quiet("CreateLogStream", { logGroupName: group, logStreamName: "DestinationDelivery" });
        await quiet("CreateLogStream", { logGroupName: group, logStreamName: "BackupDelivery" });
        dest.CloudWatchLoggingOptions = { Enabled: true, LogGroupName: group, LogStreamName: "DestinationDelivery" };
      }
      if (fnArn) {
        dest.ProcessingConfiguration = { Enabled: true, Processors: [{ Type: "Lambda", Parameters: [
          { ParameterName: "LambdaArn", ParameterValue: fnArn },
          { ParameterName: "BufferSizeInMBs", ParameterValue: String(num(procSize)) },
          { ParameterName: "BufferIntervalInSeconds", ParameterValue: String(num(procInterval)) },
        ] }] };
      }
      const params = { DeliveryStreamName: streamName, DeliveryStreamType: source.value, ExtendedS3DestinationConfiguration: dest };
      if (isKinesis) params.KinesisStreamSourceConfiguration = { KinesisStreamARN: kstream.value, RoleARN: roleArn };
      try {
        await N.api("firehose", "CreateDeliveryStream", params);
      } catch (e) {
        if (createdRole) await deleteRole(createdRole);  // leave nothing behind for a stream that was refused
        throw e;
      }
      return streamName;
    }

    syncSource(); syncTransform(); syncRole(); updateRoleName();
    view.appendChild(N.page("Create Firehose stream", { breadcrumbs: [["Firehose", "#/firehose"], ["Create Firehose stream"]] },
      N.panel("Choose source and destination",
        N.field("Source", source, "Direct PUT: producers call PutRecord / PutRecordBatch. Kinesis Data Streams: Firehose reads a data stream."),
        kstreamField,
        N.field("Destination", N.select([["S3", "Amazon S3"]], "S3", { id: "fh-destination", disabled: true }))),
      N.panel("Firehose stream name", N.field("Firehose stream name", name, "1 to 64 characters: letters, numbers, hyphens, underscores and periods.")),
      N.panel("Transform records",
        h("label", { class: "field" }, transform, " Turn on data transformation (Transform source records with AWS Lambda)"),
        transformBox),
      N.panel("Destination settings",
        N.field("S3 bucket", h("div", { class: "actions" }, bucket, createBucket)),
        N.field("S3 bucket prefix (optional)", prefix, "By default objects are written under YYYY/MM/DD/HH/ (UTC). Expressions such as !{timestamp:yyyy}/ need an error output prefix."),
        N.field("S3 bucket error output prefix (optional)", errorPrefix, "Records that fail processing or delivery go under this prefix."),
        N.field("Buffer size (MiB)", size, "1 to 128 MiB; default 5. Firehose delivers when the buffer reaches this size..."),
        N.field("Buffer interval (seconds)", interval, "...or when this much time has passed: 0 to 900 seconds; default 300."),
        N.field("Compression for data records", compression)),
      N.panel("Advanced settings",
        h("label", { class: "field" }, errorLogging, " Amazon CloudWatch error logging"),
        h("p", { class: "muted" }, "Delivery and transformation errors are logged to /aws/kinesisfirehose/<stream name>, stream DestinationDelivery (created now).")),
      N.panel("Service access", N.field("IAM role", roleMode), roleNew, roleExisting),
      err,
      h("div", { class: "actions" }, submit, N.button("Cancel", async () => N.go("#/firehose"), { id: "fh-cancel" }))));
    loadVersions();
  });

  async function createRole(roleName, bucketArn, fnArn, kinesisArn) {
    const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "firehose.amazonaws.com" }, Action: "sts:AssumeRole" }] };
    const statements = [{ Effect: "Allow", Action: ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:PutObject"], Resource: [bucketArn, bucketArn + "/*"] }];
    if (fnArn) statements.push({ Effect: "Allow", Action: ["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"], Resource: fnArn + ":*" });
    if (kinesisArn) statements.push({ Effect: "Allow", Action: ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"], Resource: kinesisArn });
    statements.push({ Effect: "Allow", Action: ["logs:PutLogEvents"], Resource: "arn:aws:logs:*:*:log-group:/aws/kinesisfirehose/*" });
    const role = (await N.api("iam", "CreateRole", { RoleName: roleName, Path: "/service-role/", AssumeRolePolicyDocument: JSON.stringify(trust), Description: "Created by the Nimbus console for Firehose" })).Role;
    try {
      await N.api("iam", "PutRolePolicy", { RoleName: roleName, PolicyName: roleName.replace(/^KinesisFirehoseServiceRole/, "KinesisFirehoseServicePolicy").slice(0, 128), PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: statements }) });
    } catch (e) { await deleteRole(roleName); throw e; }
    return role.Arn;
  }
  async function deleteRole(roleName) {
    try {
      const ps = (await N.api("iam", "ListRolePolicies", { RoleName: roleName })).PolicyNames || [];
      for (const p of ps) await N.api("iam", "DeleteRolePolicy", { RoleName: roleName, PolicyName: p });
      await N.api("iam", "DeleteRole", { RoleName: roleName });
    } catch (e) { /* best effort */ }
  }

  // --- detail ----------------------------------------------------------------------------------
  N.route("/firehose/streams/:name", async (view, params) => {
    const name = params.name;
    const region = N.state.region;
    const desc = await describe(name);
    const isS3 = !!s3Of(desc);
    // an HTTP endpoint destination (created with the SDK) is shown, not edited: its own fields stand in for S3's
    const http = ((desc.Destinations || [])[0] || {}).HttpEndpointDestinationDescription;
    const s3 = s3Of(desc) || http || {};
    const proc = lambdaProcessor(s3);
    const hints = s3.BufferingHints || {};
    const err = h("div", { id: "fh-detail-error" });
    const refresh = () => N.go(streamHref(name));

    const fnLink = (arn) => {
      const fname = N.arnName(String(arn).replace(/:\$LATEST$|:\d+$/, ""));
      const m = String(arn).match(/:(\$LATEST|\d+)$/);
      return [N.link("#/lambda/functions/" + N.q(fname), fname), " (", m ? m[1] : "$LATEST", ")"];
    };
    const config = h("div", { id: "fh-config" }, N.kv([
      ["Status", h("span", { id: "fh-status" }, statusBadge(desc.DeliveryStreamStatus))],
      desc.FailureDescription ? ["Failure", (desc.FailureDescription.Type || "") + ": " + (desc.FailureDescription.Details || "")] : null,
      ["ARN", h("code", {}, desc.DeliveryStreamARN)],
      ["Source", sourceText(desc, true)],
      ["Destination", isS3 ? ["Amazon S3: ", destinationBucket(desc)] : destinationBucket(desc)],
      isS3 ? ["S3 bucket prefix", h("code", { id: "fh-cfg-prefix" }, s3.Prefix || "YYYY/MM/DD/HH/ (default)")] : null,
      isS3 ? ["S3 bucket error output prefix", h("code", {}, s3.ErrorOutputPrefix || "(default)")] : null,
      http && http.S3DestinationDescription ? ["Backup bucket", (() => { const b = bucketOf(http.S3DestinationDescription.BucketARN); return N.link("#/s3/buckets/" + N.q(b), b); })()] : null,
      ["Buffer hints", h("span", { id: "fh-cfg-buffer" }, (hints.SizeInMBs != null ? hints.SizeInMBs + " MiB" : "-") + " or " + (hints.IntervalInSeconds != null ? hints.IntervalInSeconds + " seconds" : "-"))],
      isS3 ? ["Compression", h("span", { id: "fh-cfg-compression" }, s3.CompressionFormat || "UNCOMPRESSED")] : null,
      ["Data transformation", proc ? h("span", { id: "fh-cfg-transform" }, "Enabled: ", fnLink(proc.LambdaArn),
        proc.BufferSizeInMBs || proc.BufferIntervalInSeconds ? "; buffer " + (proc.BufferSizeInMBs || "1") + " MiB or " + (proc.BufferIntervalInSeconds || "60") + " s" : "") : h("span", { id: "fh-cfg-transform" }, "Disabled")],
      ["IAM role", s3.RoleARN ? N.link("#/iam/roles/" + N.q(N.arnName(s3.RoleARN)), s3.RoleARN) : "-"],
      ["Version ID", desc.VersionId],
      ["Created", N.fmt.time(desc.CreateTimestamp)],
      ["Last updated", N.fmt.time(desc.LastUpdateTimestamp)],
    ]));

    // monitoring (Nimbus's per-stream stats)
    const account = String(desc.DeliveryStreamARN || "").split(":")[4] || (N.state.session && N.state.session.accountId);
    const monitor = h("div", { id: "fh-monitoring" }, h("p", { class: "muted" }, "Loading…"));
    const loadStats = async () => {
      let all;
      try { all = await N.nimbus("GET", "/_nimbus/firehose/streams"); } catch (e) { N.clear(monitor).appendChild(N.errorBox(e)); return; }
      const st = all[account + "/" + region + "/" + name];
      N.clear(monitor);
      if (!st) { monitor.appendChild(h("p", { class: "muted" }, "No delivery activity yet (figures reset when the server restarts).")); return; }
      const limit = (hints.SizeInMBs || 5) * 1024 * 1024;
      const pct = Math.min(100, (100 * (st.pending_bytes || 0)) / limit);
      monitor.appendChild(N.kv([
        ["Buffer fill", h("span", { id: "fh-mon-buffer" }, (st.backlog_records || 0) + " records, " + N.fmt.bytes(st.pending_bytes || 0) + " of " + N.fmt.bytes(limit) + " (" + pct.toFixed(pct < 1 && pct > 0 ? 2 : 0) + "%)")],
        ["Incoming records", h("span", { id: "fh-mon-incoming" }, String(st.incoming_records || 0) + " (" + N.fmt.bytes(st.incoming_bytes || 0) + ")")],
        ["Delivered to S3", h("span", { id: "fh-mon-delivered" }, String(st.delivered_records || 0) + " records in " + (st.objects || 0) + " objects (" + N.fmt.bytes(st.delivered_bytes || 0) + ")")],
        ["Last delivery", h("span", { id: "fh-mon-last" }, st.last_delivery_ms ? N.fmt.time(st.last_delivery_ms) : "never")],
        ["Data freshness", (st.data_freshness_s || 0).toFixed(1) + " s"],
        proc ? ["Transform", "invocations " + (st.transform_invocations || 0) + "; Ok " + (st.transform_ok || 0) + ", Dropped " + (st.transform_dropped || 0) + ", ProcessingFailed " + (st.transform_failed || 0)] : null,
        ["Errors", h("span", { id: "fh-mon-errors" }, "delivery failures " + (st.delivery_failures || 0) + ", throttled " + (st.throttled_records || 0) + ", expired " + (st.expired_records || 0) + (st.last_error ? "; last: " + st.last_error : ""))],
      ]));
    };

    // demo data (AWS's "Test with demo data")
    const kinesisSource = desc.Source && desc.Source.KinesisStreamSourceDescription;
    let demoTimer = null, demoSent = 0, demoBusy = false;
    const demoStatus = h("span", { id: "fh-demo-status", class: "muted" }, "Not sending.");
    const demoRecord = () => JSON.stringify({
      ticker_symbol: TICKERS[Math.floor(Math.random() * TICKERS.length)],
      sector: SECTORS[Math.floor(Math.random() * SECTORS.length)],
      change: Math.round((Math.random() * 10 - 5) * 100) / 100,
      price: Math.round(Math.random() * 20000) / 100,
    }) + "\n";
    let demoInflight = null;
    const demoTick = () => {
      if (demoBusy) return demoInflight;
      demoBusy = true;
      demoInflight = demoPut();
      return demoInflight;
    };
    const demoPut = async () => {
      try {
        const n = 1 + Math.floor(Math.random() * 4);
        const records = []; for (let i = 0; i < n; i++) records.push({ Data: demoRecord() });
        if (kinesisSource) {
          // a stream reading a Kinesis data stream takes no PutRecord: the demo data goes into its source
          const r = await N.api("kinesis", "PutRecords", { StreamARN: kinesisSource.KinesisStreamARN,
            Records: records.map((x) => ({ Data: x.Data, PartitionKey: JSON.parse(x.Data).ticker_symbol })) });
          demoSent -= r.FailedRecordCount || 0;
        } else if (n === 1) await N.api("firehose", "PutRecord", { DeliveryStreamName: name, Record: records[0] });
        else {
          const r = await N.api("firehose", "PutRecordBatch", { DeliveryStreamName: name, Records: records });
          demoSent -= r.FailedPutCount || 0;
        }
        demoSent += n;
        demoStatus.textContent = "Sending demo data: " + demoSent + " records sent.";
      } catch (e) {
        demoStatus.textContent = "Sending failed: " + N.describe(e);
      } finally { demoBusy = false; }
    };
    const start = N.button("Start sending demo data", async () => {
      if (demoTimer) return;
      demoTimer = N.every(1000, demoTick);
      start.hidden = true; stop.hidden = false;
      await demoTick();
    }, { kind: "primary", id: "fh-demo-start" });
    const stop = N.button("Stop sending demo data", async () => {
      if (demoTimer) clearInterval(demoTimer);
      demoTimer = null;
      if (demoInflight) await demoInflight;  // the count shown is then final
      start.hidden = false; stop.hidden = true;
      demoStatus.textContent = "Stopped: " + demoSent + " records sent.";
    }, { id: "fh-demo-stop" });
    stop.hidden = true;

    const flush = N.button("Flush buffer now", async () => {
      await N.nimbus("POST", "/_nimbus/firehose/flush/" + N.q(region) + "/" + N.q(name));
      N.toast("Buffer of " + name + " delivered");
      await loadStats();
    }, { id: "fh-flush", title: "Deliver what the buffer holds now (Nimbus only)" });

    const edit = N.button("Edit destination settings", async () => editDestination(desc, s3, refresh), { id: "fh-edit" });
    const del = N.button("Delete", async () => {
      if (!(await N.confirm("Delete Firehose stream " + name + "? Records still in its buffer are lost."))) return;
      N.clear(err);
      try {
        await N.api("firehose", "DeleteDeliveryStream", { DeliveryStreamName: name });
        N.toast("Deleting " + name);
        N.go("#/firehose");
      } catch (e) { err.appendChild(N.errorBox(e)); }
    }, { kind: "danger", id: "fh-delete" });

    view.appendChild(N.page(name, { id: "fh-title", breadcrumbs: [["Firehose", "#/firehose"], [name]], actions: [isS3 ? edit : null, del] },
      err,
      N.panel("Firehose stream details", config),
      N.panel("Test with demo data",
        h("p", { class: "muted" }, "Puts sample stock-ticker records ({\"ticker_symbol\", \"sector\", \"change\", \"price\"}, one JSON object per line) every second while this page is open: " +
          (kinesisSource ? "into the source data stream " + N.arnName(kinesisSource.KinesisStreamARN) + " with Kinesis PutRecords." : "into this stream with PutRecord / PutRecordBatch.") +
          " Records reach S3 when the buffer size or interval is reached, or when you flush."),
        h("div", { class: "actions" }, start, stop, flush), h("p", {}, demoStatus)),
      N.panel("Monitoring", h("p", { class: "muted" }, "Live figures from Nimbus, refreshed every 2 seconds."), monitor)));
    loadStats();
    N.every(2000, loadStats);
    if (desc.DeliveryStreamStatus === "CREATING" || desc.DeliveryStreamStatus === "DELETING") {
      const serial = N.current();
      const poll = N.every(1000, async () => {
        try {
          const d = await describe(name);
          if (d.DeliveryStreamStatus !== desc.DeliveryStreamStatus && serial === N.current()) { clearInterval(poll); refresh(); }
        } catch (e) { clearInterval(poll); if (e.code === "ResourceNotFoundException" && serial === N.current()) N.go("#/firehose"); }
      });
    }
  });

  async function editDestination(desc, s3, done) {
    const hints = s3.BufferingHints || {};
    const functions = await N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions").catch(() => []);
    const pc = s3.ProcessingConfiguration || {};
    const oldLambda = (pc.Processors || []).find((p) => p.Type === "Lambda");
    const currentArn = ((oldLambda && oldLambda.Parameters) || []).filter((x) => x.ParameterName === "LambdaArn").map((x) => x.ParameterValue)[0] || "";
    const currentFn = currentArn.replace(/:\$LATEST$|:\d+$/, "");
    const transform = h("input", { type: "checkbox", id: "fh-edit-transform", checked: !!(pc.Enabled && currentArn) });
    const fnOptions = functions.map((f) => [f.FunctionArn, f.FunctionName]);
    if (currentFn && !fnOptions.some((o) => o[0] === currentFn)) fnOptions.unshift([currentFn, N.arnName(currentFn) + " (not found)"]);
    const fnSelect = N.select(fnOptions.length ? fnOptions : [["", "No Lambda functions"]], currentFn || null, { id: "fh-edit-function" });
    const fnField = N.field("AWS Lambda function", fnSelect, "Keeps the function version and the processor's other parameters when the function is unchanged; a new function runs at $LATEST.");
    const syncT = () => show(fnField, transform.checked);
    transform.addEventListener("change", syncT);
    syncT();
    const size = N.input({ id: "fh-edit-buffer-size", type: "number", min: "1", max: "128", value: String(hints.SizeInMBs != null ? hints.SizeInMBs : 5) });
    const interval = N.input({ id: "fh-edit-buffer-interval", type: "number", min: "0", max: "900", value: String(hints.IntervalInSeconds != null ? hints.IntervalInSeconds : 300) });
    const prefix = N.input({ id: "fh-edit-prefix", value: s3.Prefix || "" });
    const errorPrefix = N.input({ id: "fh-edit-error-prefix", value: s3.ErrorOutputPrefix || "" });
    const compression = N.select(COMPRESSIONS, s3.CompressionFormat || "UNCOMPRESSED", { id: "fh-edit-compression" });
    N.modal("Edit destination settings", h("div", {},
      N.field("S3 bucket prefix", prefix, "Empty: YYYY/MM/DD/HH/."),
      N.field("S3 bucket error output prefix", errorPrefix),
      N.field("Buffer size (MiB)", size, "1 to 128"),
      N.field("Buffer interval (seconds)", interval, "0 to 900"),
      N.field("Compression for data records", compression),
      h("label", { class: "field" }, transform, " Transform source records with AWS Lambda"), fnField), [{
      text: "Save changes", kind: "primary", id: "fh-edit-submit", onclick: async () => {
        const sz = num(size), iv = num(interval);
        const bad = (m) => { const e = new Error(m); e.code = "ValidationError"; return e; };
        if (!Number.isInteger(sz) || sz < 1 || sz > 128) throw bad("Buffer size must be a whole number of MiB from 1 to 128.");
        if (!Number.isInteger(iv) || iv < 0 || iv > 900) throw bad("Buffer interval must be a whole number of seconds from 0 to 900.");
        const update = {
          BufferingHints: { SizeInMBs: sz, IntervalInSeconds: iv },
          CompressionFormat: compression.value,
          Prefix: prefix.value.trim(),
          ErrorOutputPrefix: errorPrefix.value.trim(),
        };
        const processors = (pc.Processors || []).filter((p) => p.Type !== "Lambda");
        if (transform.checked) {
          if (!fnSelect.value) throw bad("Choose the Lambda function that transforms the records.");
          const arn = fnSelect.value === currentFn ? currentArn : fnSelect.value + ":$LATEST";
          const rest = ((oldLambda && oldLambda.Parameters) || []).filter((x) => x.ParameterName !== "LambdaArn");
          processors.unshift({ Type: "Lambda", Parameters: [{ ParameterName: "LambdaArn", ParameterValue: arn }].concat(rest) });
          update.ProcessingConfiguration = { Enabled: true, Processors: processors };
        } else if (pc.Enabled) {
          update.ProcessingConfiguration = { Enabled: false, Processors: pc.Processors || [] };
        }
        await N.api("firehose", "UpdateDestination", {
          DeliveryStreamName: desc.DeliveryStreamName, CurrentDeliveryStreamVersionId: desc.VersionId,
          DestinationId: desc.Destinations[0].DestinationId, ExtendedS3DestinationUpdate: update,
        });
        N.toast("Updated " + desc.DeliveryStreamName);
        done();
      },
    }]);
  }
})();
