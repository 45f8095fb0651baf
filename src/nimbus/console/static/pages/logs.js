"use strict";
// CloudWatch Logs: log groups (create, delete, retention), a group's streams and a search over all of them
// (FilterLogEvents), a stream's events (GetLogEvents, older pages, tail every 2 s).
(function () {
  const N = window.Nimbus;
  const enc = encodeURIComponent;
  const RETENTION = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
  const RANGES = [["5m", "Last 5 minutes", 5 * 60e3], ["1h", "Last hour", 3600e3], ["1d", "Last day", 86400e3], ["all", "All time", null]];

  // Each :param is decoded once by the router: names are encoded once (a "%" in a stream name survives).
  const hashEnc = (s) => enc(s);
  const groupHref = (g) => "#/logs/groups/" + hashEnc(g);
  const streamHref = (g, s) => groupHref(g) + "/streams/" + hashEnc(s);
  // Log times keep their milliseconds (N.fmt.time drops them)
  const ltime = (ms) => {
    if (ms === null || ms === undefined) return "-";
    const d = new Date(ms);
    return isNaN(d) ? String(ms) : d.toISOString().replace("T", " ").replace("Z", " UTC");
  };
  const retentionText = (days) => (days ? days + " day" + (days === 1 ? "" : "s") : "Never expire");
  const mono = (text) => N.h("span", { class: "log-message", style: { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", whiteSpace: "pre-wrap", overflowWrap: "anywhere", fontSize: "13px" } }, text);

  async function findGroup(name) {
    const groups = await N.paginate("logs", "DescribeLogGroups", { logGroupNamePrefix: name }, "nextToken", "nextToken", "logGroups", { max: 50 });
    const g = groups.find((x) => x.logGroupName === name);
    if (!g) { const e = new Error("The log group " + name + " does not exist."); e.code = "ResourceNotFoundException"; throw e; }
    return g;
  }

  function retentionModal(name, current, after) {
    const sel = N.select([["", "Never expire"]].concat(RETENTION.map((d) => [String(d), retentionText(d)])), current ? String(current) : "", { id: "logs-retention" });
    N.modal("Edit retention: " + name, N.field("Expire events after", sel, "Events older than this are deleted (PutRetentionPolicy; Never expire: DeleteRetentionPolicy)."), [{
      text: "Save", kind: "primary", id: "logs-retention-submit", onclick: async () => {
        if (sel.value) await N.api("logs", "PutRetentionPolicy", { logGroupName: name, retentionInDays: Number(sel.value) });
        else await N.api("logs", "DeleteRetentionPolicy", { logGroupName: name });
        N.toast("Retention of " + name + ": " + retentionText(Number(sel.value) || 0));
        await after();
      },
    }]);
  }

  async function deleteGroup(name) {
    if (!(await N.confirm("Delete the log group " + name + " and all its events?"))) return false;
    await N.api("logs", "DeleteLogGroup", { logGroupName: name });
    N.toast("Deleted " + name);
    return true;
  }

  // --- log groups ----------------------------------------------------------------------------
  N.route("/logs", async (view, params, query) => {
    const prefix = N.input({ id: "logs-prefix", placeholder: "Log group name prefix, e.g. /aws/lambda/", value: query.prefix || "" });
    const holder = N.h("div", { id: "logs-groups-holder" });
    const load = async () => {
      const p = prefix.value.trim();
      let groups;
      try {
        groups = await N.paginate("logs", "DescribeLogGroups", p ? { logGroupNamePrefix: p } : {}, "nextToken", "nextToken", "logGroups");
      } catch (e) { N.clear(holder).appendChild(N.errorBox(e)); return; }
      N.clear(holder).appendChild(N.table([
        { title: "Log group", get: (g) => N.link(groupHref(g.logGroupName), g.logGroupName, { class: "log-group-link" }) },
        { title: "Retention", get: (g) => retentionText(g.retentionInDays) },
        { title: "Stored bytes", get: (g) => N.fmt.bytes(g.storedBytes) },
        { title: "Created", get: (g) => N.fmt.time(g.creationTime) },
        { title: "", get: (g) => N.h("span", { class: "actions" },
          N.button("Retention", async () => retentionModal(g.logGroupName, g.retentionInDays, load), { kind: "link" }),
          N.button("Delete", async () => { if (await deleteGroup(g.logGroupName)) await load(); }, { kind: "link" })) },
      ], groups, { id: "logs-groups", empty: p ? "No log group starts with " + p + "." : "No log groups yet. Lambda creates /aws/lambda/<function> on a function's first output." }));
    };
    const create = () => {
      const name = N.input({ id: "logs-new-name", placeholder: "/my/app" });
      N.modal("Create log group", N.field("Log group name", name, "Letters, digits and _ - / . # (names starting with aws/ are reserved)."), [{
        text: "Create", kind: "primary", id: "logs-create-submit", onclick: async () => {
          await N.api("logs", "CreateLogGroup", { logGroupName: name.value.trim() });
          N.toast("Created " + name.value.trim());
          await load();
        },
      }]);
    };
    const search = N.h("form", { class: "actions", style: { marginBottom: "10px" }, onsubmit: (ev) => { ev.preventDefault(); load(); } },
      prefix, N.h("button", { type: "submit", id: "logs-prefix-search" }, "Filter"));
    view.appendChild(N.page("Log groups", { actions: [N.button("Refresh", load, { id: "logs-refresh" }), N.button("Create log group", async () => create(), { kind: "primary", id: "logs-create" })] },
      search, holder));
    await load();
  });

  // --- a log group: streams and search -------------------------------------------------------
  N.route("/logs/groups/:group", async (view, params, query) => {
    const name = params.group;
    const g = await findGroup(name);
    const tab = query.tab === "search" ? "search" : "streams";
    const reload = () => N.render();
    const head = N.page(name, {
      id: "log-group-name",
      breadcrumbs: [["CloudWatch Logs", "#/logs"], ["Log groups", "#/logs"], [name]],
      actions: [
        N.button("Edit retention", async () => retentionModal(name, g.retentionInDays, reload), { id: "logs-edit-retention" }),
        N.button("Delete log group", async () => { if (await deleteGroup(name)) N.go("#/logs"); }, { kind: "danger", id: "logs-delete-group" }),
      ],
    },
    N.panel("Log group details", N.kv([["ARN", g.arn], ["Retention", N.h("span", { id: "log-group-retention" }, retentionText(g.retentionInDays))],
      ["Stored bytes", N.fmt.bytes(g.storedBytes)], ["Created", N.fmt.time(g.creationTime)], g.logGroupClass ? ["Class", g.logGroupClass] : null])),
    N.tabs([["Log streams", groupHref(name)], ["Search all log streams", groupHref(name) + "?tab=search"]], tab === "search" ? "Search all log streams" : "Log streams"));
    view.appendChild(head);
    if (tab === "search") view.appendChild(searchPanel(name, query));
    else view.appendChild(await streamsPanel(name));
  });

  async function streamsPanel(group) {
    const body = N.h("tbody");
    const more = N.h("div");
    let token = null;
    const row = (s) => N.h("tr", {}, N.h("td", {}, N.link(streamHref(group, s.logStreamName), s.logStreamName, { class: "log-stream-link" })),
      N.h("td", {}, ltime(s.lastEventTimestamp)), N.h("td", {}, ltime(s.firstEventTimestamp)), N.h("td", {}, N.fmt.time(s.creationTime)));
    const page = async () => {
      const p = { logGroupName: group, orderBy: "LastEventTime", descending: true, limit: 50 };
      if (token) p.nextToken = token;
      const r = await N.api("logs", "DescribeLogStreams", p);
      (r.logStreams || []).forEach((s) => body.appendChild(row(s)));
      if (!body.firstChild) body.appendChild(N.h("tr", {}, N.h("td", { class: "empty", colspan: 4 }, "No log streams in this group.")));
      token = r.nextToken || null;
      N.clear(more);
      if (token) more.appendChild(N.button("Load more", page, { id: "logs-streams-more" }));
    };
    const create = () => {
      const name = N.input({ id: "logs-new-stream" });
      N.modal("Create log stream", N.field("Log stream name", name), [{
        text: "Create", kind: "primary", id: "logs-new-stream-submit", onclick: async () => {
          await N.api("logs", "CreateLogStream", { logGroupName: group, logStreamName: name.value.trim() });
          N.render();
        },
      }]);
    };
    await page();
    return N.panel("Log streams (most recent event first)",
      N.h("div", { class: "actions", style: { marginBottom: "8px" } }, N.button("Create log stream", async () => create(), { id: "logs-create-stream" })),
      N.h("table", { class: "grid", id: "log-streams" }, N.h("thead", {}, N.h("tr", {}, ["Log stream", "Last event", "First event", "Created"].map((t) => N.h("th", {}, t)))), body),
      more);
  }

  function searchPanel(group, query) {
    const pattern = N.input({ id: "logs-filter-pattern", placeholder: "Filter pattern: terms, \"phrases\", ?alternatives, -exclusions, { $.level = \"ERROR\" }", value: query.pattern || "" });
    const range = N.select(RANGES.map((r) => [r[0], r[1]]), query.range || "1h", { id: "logs-filter-range" });
    const streamPrefix = N.input({ id: "logs-filter-stream-prefix", placeholder: "Log stream name prefix (optional)" });
    const out = N.h("div", { id: "logs-filter-out" });
    let state = null;
    const run = async (next) => {
      if (!next) {
        const r = RANGES.find((x) => x[0] === range.value);
        const p = { logGroupName: group, limit: 500 };
        if (pattern.value.trim()) p.filterPattern = pattern.value.trim();
        if (r && r[2]) p.startTime = Date.now() - r[2];
        if (streamPrefix.value.trim()) p.logStreamNamePrefix = streamPrefix.value.trim();
        state = { params: p, body: N.h("tbody"), count: 0, more: N.h("div") };
        N.clear(out).appendChild(N.h("div", {},
          N.h("p", { class: "muted", id: "logs-filter-summary" }, "Searching…"),
          N.h("table", { class: "grid", id: "logs-filter-results" }, N.h("thead", {}, N.h("tr", {}, ["Time", "Log stream", "Message"].map((t) => N.h("th", {}, t)))), state.body),
          state.more));
      }
      const s = state;
      const p = Object.assign({}, s.params);
      if (next) p.nextToken = next;
      let r;
      try { r = await N.api("logs", "FilterLogEvents", p); }
      catch (e) { N.clear(out).appendChild(N.errorBox(e)); return; }
      for (const ev of r.events || []) {
        s.body.appendChild(N.h("tr", { class: "log-event" }, N.h("td", { style: { whiteSpace: "nowrap" } }, ltime(ev.timestamp)),
          N.h("td", {}, N.link(streamHref(group, ev.logStreamName), ev.logStreamName)), N.h("td", {}, mono(ev.message))));
        s.count++;
      }
      const summary = out.querySelector("#logs-filter-summary");
      if (summary) summary.textContent = s.count + " matching event" + (s.count === 1 ? "" : "s") + (r.nextToken ? " so far" : "") + ".";
      N.clear(s.more);
      if (r.nextToken) s.more.appendChild(N.button("Load more", () => run(r.nextToken), { id: "logs-filter-more" }));
      if (!s.count && !r.nextToken) s.body.appendChild(N.h("tr", {}, N.h("td", { class: "empty", colspan: 3 }, "No events match.")));
    };
    const form = N.h("form", { onsubmit: (ev) => { ev.preventDefault(); run(null); } },
      N.field("Filter pattern", pattern, "Empty matches every event. Syntax as CloudWatch Logs' filter patterns."),
      N.h("div", { class: "actions", style: { alignItems: "center", marginBottom: "8px" } }, range, streamPrefix,
        N.h("button", { type: "submit", class: "primary", id: "logs-filter-run" }, "Search")));
    return N.panel("Search all log streams", form, out);
  }

  // --- a stream's events ---------------------------------------------------------------------
  N.route("/logs/groups/:group/streams/:stream", async (view, params) => {
    const group = params.group, stream = params.stream;
    const body = N.h("tbody");
    const older = N.h("div");
    const status = N.h("span", { class: "muted", id: "logs-tail-status" });
    let backward = null, forward = null, timer = null, busy = false;
    const serial = N.current();
    const row = (ev) => N.h("tr", { class: "log-event" }, N.h("td", { style: { whiteSpace: "nowrap", width: "1%" } }, ltime(ev.timestamp)), N.h("td", {}, mono(ev.message)));
    const noEvents = () => { if (!body.querySelector("tr.log-event") && !body.querySelector("tr.none")) body.appendChild(N.h("tr", { class: "none" }, N.h("td", { class: "empty", colspan: 2 }, "No events in this stream."))); };
    const dropNone = () => { const n = body.querySelector("tr.none"); if (n) n.remove(); };
    const base = { logGroupName: group, logStreamName: stream };

    const first = await N.api("logs", "GetLogEvents", Object.assign({ startFromHead: false, limit: 200 }, base));
    (first.events || []).forEach((ev) => body.appendChild(row(ev)));
    noEvents();
    backward = first.nextBackwardToken; forward = first.nextForwardToken;
    const loadOlder = async () => {
      const r = await N.api("logs", "GetLogEvents", Object.assign({ startFromHead: false, limit: 200, nextToken: backward }, base));
      const evs = r.events || [];
      if (evs.length) dropNone();
      const anchor = body.firstChild;
      evs.forEach((ev) => body.insertBefore(row(ev), anchor));
      const done = !evs.length || r.nextBackwardToken === backward;
      backward = r.nextBackwardToken;
      if (done) { N.clear(older).appendChild(N.h("span", { class: "muted", id: "logs-no-older" }, "The beginning of the stream.")); }
    };
    N.append(older, (first.events || []).length ? N.button("Load older events", loadOlder, { id: "logs-load-older" }) : null);
    const poll = async () => {
      if (busy || N.current() !== serial) return;
      busy = true;
      try {
        const r = await N.api("logs", "GetLogEvents", Object.assign({ startFromHead: true, nextToken: forward }, base));
        const evs = r.events || [];
        if (evs.length) dropNone();
        evs.forEach((ev) => body.appendChild(row(ev)));
        forward = r.nextForwardToken || forward;
        status.textContent = "Tailing: checked " + new Date().toISOString().slice(11, 19) + " UTC" + (evs.length ? ", " + evs.length + " new" : "");
        if (evs.length && tail.checked) body.lastChild.scrollIntoView({ block: "nearest" });
      } catch (e) { status.textContent = "Tail failed: " + N.describe(e); }
      finally { busy = false; }
    };
    const tail = N.h("input", { type: "checkbox", id: "logs-tail", onchange: () => {
      if (tail.checked && timer === null) { timer = N.every(2000, poll); poll(); }
      else if (!tail.checked && timer !== null) { clearInterval(timer); timer = null; status.textContent = ""; }
    } });
    view.appendChild(N.page(stream, {
      id: "log-stream-name",
      breadcrumbs: [["CloudWatch Logs", "#/logs"], [group, groupHref(group)], [stream]],
      actions: [N.h("label", { style: { display: "flex", gap: "6px", alignItems: "center" } }, tail, "Tail (every 2 s)"), status,
        N.button("Refresh", async () => N.render(), { id: "logs-stream-refresh" })],
    },
    N.panel("Events (newest page; oldest first)", older,
      N.h("table", { class: "grid", id: "log-events" }, N.h("thead", {}, N.h("tr", {}, N.h("th", {}, "Timestamp"), N.h("th", {}, "Message"))), body))));
  });
})();
