"use strict";
// Amazon Kinesis Data Streams: streams (list, create, delete), a stream's detail with its shards, the data
// viewer (GetShardIterator + GetRecords), a "Put record" form and the stream's consumers (Lambda event
// source mappings and enhanced fan-out consumers). Every action is a Kinesis or Lambda API call.
(function () {
  const N = window.Nimbus;
  const h = N.h;
  const streamHref = (name) => "#/kinesis/streams/" + N.q(name);
  const show = (el, on) => { el.style.display = on ? "" : "none"; };
  const statusBadge = (s) => h("span", { class: "badge" + (s === "ACTIVE" ? " ok" : "") }, s || "-");
  const modeText = (m) => (m && m.StreamMode === "ON_DEMAND" ? "On-demand" : "Provisioned");
  const bad = (m) => { const e = new Error(m); e.code = "ValidationError"; return e; };

  const summary = async (name) => (await N.api("kinesis", "DescribeStreamSummary", { StreamName: name })).StreamDescriptionSummary;
  async function listSummaries() {
    let out = [], token = null;
    for (let i = 0; i < 100; i++) {
      const page = await N.api("kinesis", "ListStreams", token ? { NextToken: token } : { Limit: 100 });
      out = out.concat(page.StreamSummaries || (page.StreamNames || []).map((n) => ({ StreamName: n })));
      token = page.HasMoreStreams ? page.NextToken : null;
      if (!token) break;
    }
    return out;
  }
  async function deleteStream(name) {
    if (!(await N.confirm("Delete data stream " + name + "? Its records are lost, and its consumers stop."))) return false;
    await N.api("kinesis", "DeleteStream", { StreamName: name, EnforceConsumerDeletion: true });
    N.toast("Deleting " + name);
    return true;
  }

  // --- list ------------------------------------------------------------------------------------
  N.route("/kinesis", async (view) => {
    const streams = await listSummaries();
    const rows = (await Promise.all(streams.map(async (s) => { try { return Object.assign({}, s, await summary(s.StreamName)); } catch (e) { return Object.assign({ error: e }, s); } })))
      .filter((r) => !(r.error && r.error.code === "ResourceNotFoundException"));  // deleted since the listing
    const err = h("div", { id: "ks-list-error" });
    const del = async (name) => {
      N.clear(err);
      try { if (await deleteStream(name)) N.render(); } catch (e) { err.appendChild(N.errorBox(e)); }
    };
    view.appendChild(N.page("Data streams", {
      actions: [N.button("Create data stream", async () => N.go("#/kinesis/create"), { kind: "primary", id: "ks-create" })],
    },
    h("p", { class: "muted" }, "Kinesis Data Streams keep ordered records per shard for the retention period; consumers (Lambda triggers, Firehose, your code) read them. Region " + N.state.region + "."),
    err,
    N.table([
      { title: "Name", get: (s) => N.link(streamHref(s.StreamName), s.StreamName, { class: "ks-stream-link" }) },
      { title: "Status", get: (s) => statusBadge(s.StreamStatus) },
      { title: "Capacity mode", get: (s) => modeText(s.StreamModeDetails) },
      { title: "Open shards", get: (s) => s.OpenShardCount === undefined ? "-" : String(s.OpenShardCount) },
      { title: "Retention", get: (s) => s.RetentionPeriodHours ? s.RetentionPeriodHours + " hours" : "-" },
      { title: "Created", get: (s) => N.fmt.time(s.StreamCreationTimestamp) },
      { title: "", get: (s) => N.button("Delete", () => del(s.StreamName), { kind: "danger", id: "ks-delete-" + s.StreamName }) },
    ], rows, { id: "ks-streams", empty: "No data streams in " + N.state.region + "." })));
    // while a stream is being created, updated or deleted, refresh the list when that changes
    if (rows.some((r) => /ING$/.test(r.StreamStatus || ""))) {
      const serial = N.current();
      const before = JSON.stringify(rows.map((r) => [r.StreamName, r.StreamStatus]));
      const poll = N.every(1500, async () => {
        try {
          const now = (await listSummaries()).map((r) => [r.StreamName, r.StreamStatus]);
          if (JSON.stringify(now) !== before && serial === N.current()) { clearInterval(poll); N.render(); }
        } catch (e) { clearInterval(poll); }
      });
    }
  });

  // --- create ----------------------------------------------------------------------------------
  N.route("/kinesis/create", async (view) => {
    const name = N.input({ id: "ks-name", maxlength: 128 });
    const mode = N.select([["ON_DEMAND", "On-demand"], ["PROVISIONED", "Provisioned"]], "ON_DEMAND", { id: "ks-mode" });
    const shards = N.input({ id: "ks-shards", type: "number", min: "1", max: "500", value: "1" });
    const shardsField = N.field("Provisioned shards", shards, "Each shard takes 1 MiB/s or 1,000 records/s in and gives 2 MiB/s out.");
    mode.addEventListener("change", () => show(shardsField, mode.value === "PROVISIONED"));
    show(shardsField, false);
    const err = h("div", { id: "ks-error" });
    const submit = N.button("Create data stream", async () => {
      N.clear(err);
      try {
        const n = name.value.trim();
        if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(n)) throw bad("The data stream name must be 1 to 128 letters, numbers, hyphens, underscores or periods.");
        const p = { StreamName: n, StreamModeDetails: { StreamMode: mode.value } };
        if (mode.value === "PROVISIONED") {
          const c = Number(shards.value);
          if (!Number.isInteger(c) || c < 1) throw bad("The number of shards must be a whole number of at least 1.");
          p.ShardCount = c;
        }
        await N.api("kinesis", "CreateStream", p);
        N.toast("Creating data stream " + n);
        N.go(streamHref(n));
      } catch (e) { err.appendChild(N.errorBox(e)); }
    }, { kind: "primary", id: "ks-submit" });
    view.appendChild(N.page("Create data stream", { breadcrumbs: [["Kinesis", "#/kinesis"], ["Create data stream"]] },
      N.panel("Data stream configuration", N.field("Data stream name", name, "1 to 128 characters: letters, numbers, hyphens, underscores and periods.")),
      N.panel("Data stream capacity", N.field("Capacity mode", mode, "On-demand scales by itself; provisioned has the shards you choose."), shardsField),
      err,
      h("div", { class: "actions" }, submit, N.button("Cancel", async () => N.go("#/kinesis"), { id: "ks-cancel" }))));
  });

  // --- detail ----------------------------------------------------------------------------------
  N.route("/kinesis/streams/:name", async (view, params) => {
    const name = params.name;
    const s = await summary(name);
    let shards = [];
    let shardError = null;
    try {
      // ListShards with a NextToken must not repeat StreamName (N.paginate would)
      let page = await N.api("kinesis", "ListShards", { StreamName: name });
      shards = page.Shards || [];
      for (let i = 0; page.NextToken && i < 100; i++) {
        page = await N.api("kinesis", "ListShards", { NextToken: page.NextToken });
        shards = shards.concat(page.Shards || []);
      }
    } catch (e) { shardError = e; }
    const err = h("div", { id: "ks-detail-error" });

    const del = N.button("Delete", async () => {
      N.clear(err);
      try { if (await deleteStream(name)) N.go("#/kinesis"); } catch (e) { err.appendChild(N.errorBox(e)); }
    }, { kind: "danger", id: "ks-delete" });

    const editCapacity = N.button("Edit capacity", async () => {
      const provisioned = !s.StreamModeDetails || s.StreamModeDetails.StreamMode !== "ON_DEMAND";
      const mode = N.select([["ON_DEMAND", "On-demand"], ["PROVISIONED", "Provisioned"]], provisioned ? "PROVISIONED" : "ON_DEMAND", { id: "ks-edit-mode" });
      const count = N.input({ id: "ks-edit-shards", type: "number", min: "1", value: String(s.OpenShardCount) });
      const countField = N.field("Provisioned shards", count, "UpdateShardCount with uniform scaling: at most double, at least half the open shards per call.");
      const sync = () => show(countField, mode.value === "PROVISIONED" && provisioned);
      mode.addEventListener("change", sync);
      sync();
      N.modal("Edit data stream capacity", h("div", {}, N.field("Capacity mode", mode, "Switching the mode is one UpdateStreamMode; change the shard count afterwards, once the stream is ACTIVE again."), countField), [{
        text: "Save changes", kind: "primary", id: "ks-edit-capacity-submit", onclick: async () => {
          if ((mode.value === "PROVISIONED") !== provisioned) {
            await N.api("kinesis", "UpdateStreamMode", { StreamARN: s.StreamARN, StreamModeDetails: { StreamMode: mode.value } });
          } else if (provisioned && Number(count.value) !== s.OpenShardCount) {
            const c = Number(count.value);
            if (!Number.isInteger(c) || c < 1) throw bad("The number of shards must be a whole number of at least 1.");
            await N.api("kinesis", "UpdateShardCount", { StreamName: name, TargetShardCount: c, ScalingType: "UNIFORM_SCALING" });
          } else return true;
          N.toast("Updating " + name);
          N.render();
        },
      }]);
    }, { id: "ks-edit-capacity" });
    const editRetention = N.button("Edit retention", async () => {
      const hours = N.input({ id: "ks-edit-retention-hours", type: "number", min: "24", max: "8760", value: String(s.RetentionPeriodHours) });
      N.modal("Edit data retention period", N.field("Retention period (hours)", hours, "24 hours (1 day) to 8760 hours (365 days)."), [{
        text: "Save changes", kind: "primary", id: "ks-edit-retention-submit", onclick: async () => {
          const v = Number(hours.value);
          if (!Number.isInteger(v) || v < 24 || v > 8760) throw bad("The retention period must be a whole number of hours from 24 to 8760.");
          if (v === s.RetentionPeriodHours) return true;
          await N.api("kinesis", v > s.RetentionPeriodHours ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod", { StreamName: name, RetentionPeriodHours: v });
          N.toast("Retention of " + name + " is now " + v + " hours");
          N.render();
        },
      }]);
    }, { id: "ks-edit-retention" });

    const info = N.panel("Stream summary", h("div", { id: "ks-summary" }, N.kv([
      ["Status", h("span", { id: "ks-status" }, statusBadge(s.StreamStatus))],
      ["ARN", h("code", {}, s.StreamARN)],
      ["Capacity mode", modeText(s.StreamModeDetails)],
      ["Open shards", h("span", { id: "ks-open-shards" }, String(s.OpenShardCount))],
      ["Data retention period", h("span", { id: "ks-retention" }, s.RetentionPeriodHours + " hours")],
      ["Encryption", s.EncryptionType && s.EncryptionType !== "NONE" ? s.EncryptionType : "Disabled"],
      ["Maximum record size", s.MaxRecordSizeInKiB ? s.MaxRecordSizeInKiB + " KiB" : "1024 KiB"],
      ["Created", N.fmt.time(s.StreamCreationTimestamp)],
    ])), h("div", { class: "actions" }, editCapacity, editRetention));

    const shardTable = shardError ? N.errorBox(shardError) : N.table([
      { title: "Shard ID", get: (x) => h("code", { style: { whiteSpace: "nowrap" } }, x.ShardId) },
      { title: "State", get: (x) => x.SequenceNumberRange && x.SequenceNumberRange.EndingSequenceNumber ? "Closed" : "Open" },
      { title: "Parent", get: (x) => x.ParentShardId || "-" },
      { title: "Hash key range", get: (x) => h("code", {}, x.HashKeyRange.StartingHashKey + " – " + x.HashKeyRange.EndingHashKey) },
      { title: "Starting sequence number", get: (x) => h("code", {}, (x.SequenceNumberRange || {}).StartingSequenceNumber || "-") },
    ], shards, { id: "ks-shards-table", empty: s.StreamStatus === "CREATING" ? "The stream is being created." : "No shards." });

    // data viewer
    const shardSel = N.select(shards.length ? shards.map((x) => x.ShardId) : [["", "No shards"]], null, { id: "ks-viewer-shard" });
    const position = N.select([["TRIM_HORIZON", "Trim horizon"], ["LATEST", "Latest"], ["AT_SEQUENCE_NUMBER", "At sequence number"],
      ["AFTER_SEQUENCE_NUMBER", "After sequence number"], ["AT_TIMESTAMP", "At timestamp"]], "TRIM_HORIZON", { id: "ks-viewer-position" });
    const seq = N.input({ id: "ks-viewer-seq", placeholder: "sequence number" });
    const ts = N.input({ id: "ks-viewer-timestamp", placeholder: "2024-01-31T12:00:00Z", value: new Date(Date.now() - 3600e3).toISOString().replace(/\.\d+Z$/, "Z") });
    const limit = N.input({ id: "ks-viewer-limit", type: "number", min: "1", max: "10000", value: "100" });
    const seqField = N.field("Starting sequence number", seq);
    const tsField = N.field("Start timestamp (ISO 8601, UTC)", ts);
    const syncPos = () => { show(seqField, /SEQUENCE/.test(position.value)); show(tsField, position.value === "AT_TIMESTAMP"); };
    position.addEventListener("change", syncPos);
    syncPos();
    const records = h("div", { id: "ks-records" }, h("p", { class: "muted" }, "Choose a shard and a starting position, then Get records."));
    const viewerErr = h("div", { id: "ks-viewer-error" });
    let iterator = null;
    const next = N.button("Get next records", async () => { await fetchRecords(); }, { id: "ks-viewer-next" });
    show(next, false);

    async function fetchRecords() {
      N.clear(viewerErr);
      try {
        if (!iterator) throw bad("The shard iterator ended (the shard is closed and read to its end). Get records again.");
        let page = null, tries = 0;
        // as on AWS, a GetRecords may come back empty while there is more to read: ask a few times
        do {
          page = await N.api("kinesis", "GetRecords", { ShardIterator: iterator, Limit: Number(limit.value) || 100 });
          iterator = page.NextShardIterator || null;
          tries++;
        } while (!(page.Records || []).length && page.MillisBehindLatest > 0 && iterator && tries < 5);
        renderRecords(page);
        show(next, !!iterator);
      } catch (e) {
        viewerErr.appendChild(N.errorBox(e));
        if (e.code === "ExpiredIteratorException") { iterator = null; show(next, false); }
      }
    }
    function dataCell(d) {
      if (d && typeof d === "object" && d.$b64 !== undefined) return h("div", {}, h("span", { class: "badge" }, "binary, base64"), h("pre", { class: "code" }, d.$b64));
      const text = String(d === undefined || d === null ? "" : d);
      let shown = text;
      try { const v = JSON.parse(text); if (v !== null && typeof v === "object") shown = JSON.stringify(v, null, 2); } catch (e) { /* plain text */ }
      return h("pre", { class: "code ks-record-data" }, shown);
    }
    function renderRecords(page) {
      const rs = page.Records || [];
      N.clear(records).appendChild(h("p", { class: "muted", id: "ks-records-count" },
        rs.length + " record" + (rs.length === 1 ? "" : "s") + (page.MillisBehindLatest !== undefined ? "; " + page.MillisBehindLatest + " ms behind the latest record" : "") + (page.NextShardIterator ? "" : "; the shard is closed and read to its end")));
      records.appendChild(N.table([
        { title: "Partition key", get: (r) => h("code", { class: "ks-record-key" }, r.PartitionKey) },
        { title: "Sequence number", get: (r) => h("code", { class: "ks-record-seq" }, r.SequenceNumber) },
        { title: "Approximate arrival", get: (r) => N.fmt.time(r.ApproximateArrivalTimestamp) },
        { title: "Data", get: (r) => dataCell(r.Data) },
      ], rs, { id: "ks-records-table", empty: "No records at this position. Put a record, or Get next records later." }));
    }
    const get = N.button("Get records", async () => {
      N.clear(viewerErr);
      try {
        if (!shardSel.value) throw bad("The stream has no shard to read.");
        const p = { StreamName: name, ShardId: shardSel.value, ShardIteratorType: position.value };
        if (/SEQUENCE/.test(position.value)) {
          if (!seq.value.trim()) throw bad("Enter a starting sequence number.");
          p.StartingSequenceNumber = seq.value.trim();
        }
        if (position.value === "AT_TIMESTAMP") {
          const d = new Date(ts.value.trim());
          if (isNaN(d)) throw bad("Enter the start timestamp as ISO 8601, e.g. 2024-01-31T12:00:00Z.");
          p.Timestamp = d.getTime() / 1000;
        }
        iterator = (await N.api("kinesis", "GetShardIterator", p)).ShardIterator;
      } catch (e) { viewerErr.appendChild(N.errorBox(e)); return; }
      await fetchRecords();
    }, { kind: "primary", id: "ks-viewer-get" });

    // put record
    const putKey = N.input({ id: "ks-put-key", placeholder: "partition key" });
    const putData = N.textarea({ id: "ks-put-data", rows: 4, placeholder: "{\"ticker_symbol\": \"NMB\", \"price\": 1.0}" });
    const putResult = h("div", { id: "ks-put-result" });
    const put = N.button("Put record", async () => {
      N.clear(putResult);
      try {
        if (!putKey.value) throw bad("Enter a partition key (1 to 256 characters).");
        const r = await N.api("kinesis", "PutRecord", { StreamName: name, PartitionKey: putKey.value, Data: putData.value });
        putResult.appendChild(h("div", { class: "ok" }, "Record put in ", h("code", {}, r.ShardId), " with sequence number ", h("code", { id: "ks-put-seq" }, r.SequenceNumber), "."));
      } catch (e) { putResult.appendChild(N.errorBox(e)); }
    }, { kind: "primary", id: "ks-put-submit" });

    // consumers
    const consumers = h("div", { id: "ks-consumers" }, h("p", { class: "muted" }, "Loading…"));
    (async () => {
      const parts = [];
      try {
        const ms = await N.paginate("lambda", "ListEventSourceMappings", { EventSourceArn: s.StreamARN }, "Marker", "NextMarker", "EventSourceMappings");
        parts.push(h("h2", {}, "Lambda triggers (event source mappings)"), N.table([
          { title: "Function", get: (m) => { const f = N.arnName(String(m.FunctionArn || "").replace(/:\$LATEST$|:\d+$/, "")); return N.link("#/lambda/functions/" + N.q(f), f); } },
          { title: "State", get: (m) => m.State || "-" },
          { title: "Batch size", get: (m) => String(m.BatchSize || "-") },
          { title: "Starting position", get: (m) => m.StartingPosition || "-" },
          { title: "Last result", get: (m) => m.LastProcessingResult || "-" },
          { title: "UUID", get: (m) => h("code", {}, m.UUID) },
        ], ms, { id: "ks-mappings", empty: "No Lambda function reads this stream. Add a Kinesis trigger to a function." }));
      } catch (e) { parts.push(N.errorBox(e)); }
      try {
        const cs = await N.paginate("kinesis", "ListStreamConsumers", { StreamARN: s.StreamARN }, "NextToken", "NextToken", "Consumers");
        parts.push(h("h2", {}, "Enhanced fan-out consumers"), N.table([
          { title: "Name", get: (c) => c.ConsumerName },
          { title: "Status", get: (c) => c.ConsumerStatus },
          { title: "Registered", get: (c) => N.fmt.time(c.ConsumerCreationTimestamp) },
        ], cs, { id: "ks-efo", empty: "No registered consumers." }));
      } catch (e) { /* optional */ }
      N.clear(consumers); N.append(consumers, parts);
    })();

    view.appendChild(N.page(name, { id: "ks-title", breadcrumbs: [["Kinesis", "#/kinesis"], [name]], actions: [del] },
      err, info,
      N.panel("Shards", shardTable),
      N.panel("Data viewer",
        h("div", { style: { display: "flex", gap: "14px", flexWrap: "wrap", alignItems: "flex-end" } },
          N.field("Shard", shardSel), N.field("Starting position", position), seqField, tsField, N.field("Records per request", limit)),
        h("div", { class: "actions" }, get, next), viewerErr, records),
      N.panel("Put record",
        h("p", { class: "muted" }, "PutRecord: the partition key's MD5 hash chooses the shard."),
        N.field("Partition key", putKey), N.field("Data", putData, "Sent as UTF-8 text."), h("div", { class: "actions" }, put), putResult),
      N.panel("Consumers", consumers)));
    if (s.StreamStatus === "CREATING" || s.StreamStatus === "UPDATING") {
      const serial = N.current();
      const poll = N.every(1000, async () => {
        try {
          const now = await summary(name);
          if (now.StreamStatus !== s.StreamStatus && serial === N.current()) { clearInterval(poll); N.render(); }
        } catch (e) { clearInterval(poll); }
      });
    }
  });
})();
