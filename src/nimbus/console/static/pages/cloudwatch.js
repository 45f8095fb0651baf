"use strict";
// CloudWatch: metrics (browse by namespace, graph with GetMetricData) and alarms.
// A graph can be linked to: #/cloudwatch/graph?ns=AWS/Lambda&metric=Invocations&dims=FunctionName=f1&stat=Sum
(function () {
  const N = window.Nimbus;
  const RANGES = [["3600", "1 hour"], ["10800", "3 hours"], ["43200", "12 hours"], ["86400", "1 day"], ["604800", "1 week"]];
  const STATS = ["Sum", "Average", "Maximum", "Minimum", "SampleCount", "p50", "p90", "p99"];
  const COLORS = ["#0972d3", "#d91515", "#037f0c", "#8456ce", "#e07941", "#00819c", "#9f6b00", "#c33d69"];

  const dimsText = (dims) => (dims || []).map((d) => d.Name + "=" + d.Value).join(", ");
  const dimsParam = (dims) => (dims || []).map((d) => d.Name + "=" + d.Value).join(";");
  const parseDims = (text) => (text || "").split(";").filter((x) => x).map((x) => { const i = x.indexOf("="); return { Name: x.slice(0, i), Value: x.slice(i + 1) }; });
  const graphHref = (ns, metric, dims, stat) => "#/cloudwatch/graph?ns=" + N.q(ns) + "&metric=" + N.q(metric) + "&dims=" + N.q(dimsParam(dims)) + (stat ? "&stat=" + N.q(stat) : "");
  N.cloudwatchGraphHref = graphHref;  // for other pages (a function's Monitor tab)

  async function allMetrics(params) {
    return N.paginate("cloudwatch", "ListMetrics", params || {}, "NextToken", "NextToken", "Metrics", { max: 2000 });
  }

  N.route("/cloudwatch", async (view, params, query) => {
    const tab = query.tab || "metrics";
    const tabs = N.tabs([["Metrics", "#/cloudwatch"], ["Alarms", "#/cloudwatch?tab=alarms"]], tab === "alarms" ? "Alarms" : "Metrics");
    if (tab === "alarms") {
      const alarms = (await N.api("cloudwatch", "DescribeAlarms", { MaxRecords: 100 })).MetricAlarms || [];
      const table = N.table([
        { title: "Name", get: (a) => a.AlarmName },
        { title: "State", get: (a) => N.h("span", { class: "badge" + (a.StateValue === "ALARM" ? " bad" : a.StateValue === "OK" ? " ok" : "") }, a.StateValue) },
        { title: "Metric", get: (a) => a.MetricName ? N.link(graphHref(a.Namespace, a.MetricName, a.Dimensions, a.Statistic), a.Namespace + " " + a.MetricName) : "(metric math)" },
        { title: "Condition", get: (a) => (a.Statistic || a.ExtendedStatistic || "") + " " + (a.ComparisonOperator || "") + " " + (a.Threshold ?? "") },
        { title: "Updated", get: (a) => N.fmt.time(a.StateUpdatedTimestamp) },
        { title: "", get: (a) => N.button("Delete", async () => {
          if (!(await N.confirm("Delete the alarm " + a.AlarmName + "?"))) return;
          await N.api("cloudwatch", "DeleteAlarms", { AlarmNames: [a.AlarmName] });
          N.toast("Deleted " + a.AlarmName); N.render();
        }, { kind: "danger" }) },
      ], alarms, { id: "cw-alarms", empty: "No alarms in this region." });
      view.appendChild(N.page("CloudWatch", {}, tabs, N.h("p", { class: "muted" }, "Alarms are evaluated and recorded; their actions are not run (docs/services/cloudwatch.md)."), table));
      return;
    }
    const metrics = await allMetrics();
    const namespaces = {};
    metrics.forEach((m) => { namespaces[m.Namespace] = (namespaces[m.Namespace] || 0) + 1; });
    const ns = query.ns;
    if (!ns) {
      const rows = Object.keys(namespaces).sort().map((k) => ({ ns: k, n: namespaces[k] }));
      view.appendChild(N.page("CloudWatch", {}, tabs, N.table([
        { title: "Namespace", get: (r) => N.link("#/cloudwatch?ns=" + N.q(r.ns), r.ns) },
        { title: "Metrics", get: (r) => String(r.n) },
      ], rows, { id: "cw-namespaces", empty: "No metrics yet in this region: invoke a function, put records, or PutMetricData." })));
      return;
    }
    const inNs = metrics.filter((m) => m.Namespace === ns).sort((a, b) => (a.MetricName + dimsText(a.Dimensions)).localeCompare(b.MetricName + dimsText(b.Dimensions)));
    view.appendChild(N.page(ns, { breadcrumbs: [["CloudWatch", "#/cloudwatch"], [ns]] }, tabs, N.table([
      { title: "Metric", get: (m) => N.link(graphHref(ns, m.MetricName, m.Dimensions), m.MetricName) },
      { title: "Dimensions", get: (m) => dimsText(m.Dimensions) || "(none)" },
    ], inNs, { id: "cw-metrics" })));
  });

  // A graph of one metric (or several: metric=A,B) over a range.
  N.route("/cloudwatch/graph", async (view, params, query) => {
    const ns = query.ns, names = (query.metric || "").split(",").filter((x) => x);
    const dims = parseDims(query.dims);
    const range = query.range || "3600";
    const stat = query.stat || "Sum";
    const seconds = Number(range);
    const period = Number(query.period || (seconds <= 10800 ? 60 : seconds <= 86400 ? 300 : 3600));
    const end = new Date(), start = new Date(end.getTime() - seconds * 1000);
    const queries = names.map((name, i) => ({ Id: "m" + i, Label: name, ReturnData: true,
      MetricStat: { Metric: { Namespace: ns, MetricName: name, Dimensions: dims }, Period: period, Stat: stat } }));
    const data = queries.length ? await N.api("cloudwatch", "GetMetricData", { MetricDataQueries: queries, StartTime: start.toISOString(), EndTime: end.toISOString(), ScanBy: "TimestampAscending" }) : { MetricDataResults: [] };
    const go = (changes) => {
      const q = Object.assign({ ns, metric: names.join(","), dims: dimsParam(dims), range, stat, period: String(period) }, changes);
      N.go("#/cloudwatch/graph?" + Object.keys(q).map((k) => k + "=" + N.q(q[k])).join("&"));
    };
    const controls = N.h("div", { class: "actions", style: { marginBottom: "10px" } },
      N.h("label", {}, "Range ", N.select(RANGES, range, { id: "cw-range", onchange: (ev) => go({ range: ev.target.value, period: "" }) })),
      N.h("label", {}, "Statistic ", N.select(STATS, stat, { id: "cw-stat", onchange: (ev) => go({ stat: ev.target.value }) })),
      N.h("label", {}, "Period ", N.select([["60", "1 minute"], ["300", "5 minutes"], ["3600", "1 hour"]], String(period), { id: "cw-period", onchange: (ev) => go({ period: ev.target.value }) })),
      N.button("Refresh", async () => N.render(), { id: "cw-refresh" }));
    const results = data.MetricDataResults || [];
    view.appendChild(N.page(names.join(", ") || "Graph", { breadcrumbs: [["CloudWatch", "#/cloudwatch"], [ns, "#/cloudwatch?ns=" + N.q(ns)], [names.join(", ")]], id: "cw-graph-title" },
      N.h("p", { class: "muted" }, dimsText(dims) || "No dimensions (all)"), controls,
      N.panel(null, chart(results, start.getTime(), end.getTime())),
      N.table([
        { title: "Metric", get: (r) => r.Label },
        { title: "Points", get: (r) => String((r.Values || []).length) },
        { title: "Total", get: (r) => String((r.Values || []).reduce((a, b) => a + b, 0)) },
        { title: "Latest", get: (r) => (r.Values || []).length ? String(r.Values[r.Values.length - 1]) + " at " + N.fmt.time(r.Timestamps[r.Timestamps.length - 1]) : "-" },
      ], results, { id: "cw-graph-values" })));
  });

  // A line chart in SVG (no library): one polyline per result, time on x.
  function chart(results, t0, t1) {
    const W = 900, H = 260, L = 50, B = 24, T = 10;
    const ns = "http://www.w3.org/2000/svg";
    const el = (tag, attrs) => { const e = document.createElementNS(ns, tag); Object.keys(attrs).forEach((k) => e.setAttribute(k, attrs[k])); return e; };
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", id: "cw-chart", role: "img" });
    let max = 0;
    results.forEach((r) => (r.Values || []).forEach((v) => { if (v > max) max = v; }));
    if (max === 0) max = 1;
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - 10);
    const y = (v) => H - B - (v / max) * (H - B - T);
    svg.appendChild(el("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#8c8c94" }));
    svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#8c8c94" }));
    [0, 0.5, 1].forEach((f) => {
      const label = el("text", { x: L - 6, y: y(max * f) + 4, "text-anchor": "end", "font-size": "11", fill: "#5f6b7a" });
      label.textContent = String(Math.round(max * f * 100) / 100);
      svg.appendChild(label);
    });
    [t0, (t0 + t1) / 2, t1].forEach((t, i) => {
      const label = el("text", { x: x(t), y: H - 6, "text-anchor": i === 0 ? "start" : i === 2 ? "end" : "middle", "font-size": "11", fill: "#5f6b7a" });
      label.textContent = new Date(t).toISOString().slice(11, 16) + " UTC";
      svg.appendChild(label);
    });
    results.forEach((r, i) => {
      const pts = (r.Timestamps || []).map((ts, j) => [new Date(ts).getTime(), r.Values[j]]).sort((a, b) => a[0] - b[0]);
      const color = COLORS[i % COLORS.length];
      if (pts.length === 1) svg.appendChild(el("circle", { cx: x(pts[0][0]), cy: y(pts[0][1]), r: 3, fill: color }));
      else if (pts.length) svg.appendChild(el("polyline", { points: pts.map((p) => x(p[0]) + "," + y(p[1])).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    });
    if (!results.some((r) => (r.Values || []).length)) {
      const none = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#5f6b7a" });
      none.textContent = "No data points in this range.";
      svg.appendChild(none);
    }
    return svg;
  }
})();
