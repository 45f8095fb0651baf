// Nimbus console: the small framework every page uses (no build step, no dependencies).
// Pages (pages/*.js) register routes and nav entries on window.Nimbus; start.js boots the app.
// Every action is an AWS API call through POST api/call, signed server-side with the signed-in user's keys.
"use strict";
(function () {
  const N = (window.Nimbus = {});
  const REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
    "ap-southeast-2", "sa-east-1"];
  N.REGIONS = REGIONS;
  N.state = { region: null, identity: null, session: null };
  const routes = [];
  const navs = [];
  let timers = [];
  let routeSerial = 0;

  // --- the console's own API ------------------------------------------------------------------
  N.post = async function (path, body) {
    const r = await fetch("/_nimbus/console/api/" + path, {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-nimbus-console": "1" },
      body: JSON.stringify(body || {}),
    });
    let doc = {};
    try { doc = await r.json(); } catch (e) { doc = { error: { code: "BadAnswer", message: "HTTP " + r.status } }; }
    if (r.status === 401 && path !== "login") { N.signedOut(); }
    if (!r.ok || doc.error) {
      const err = new Error((doc.error && doc.error.message) || ("HTTP " + r.status));
      err.code = (doc.error && doc.error.code) || String(r.status);
      err.status = doc.status || r.status;
      throw err;
    }
    return doc;
  };
  // One AWS API call: N.api("lambda", "ListFunctions", {MaxItems: 50}). Blob parameters take strings, or
  // {"$b64": base64} for binary; {"$zip": {"lambda_function.py": "..."}} is a zip of those files.
  // Answers: timestamps as ISO strings, blobs as text (or {"$b64": ...} when not UTF-8).
  N.api = async function (service, operation, params, opts) {
    const doc = await N.post("call", { service, operation, params: params || {}, region: (opts && opts.region) || N.state.region });
    return doc.data;
  };
  // All pages of a paged list: N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions")
  // opts.max: stop after that many items; opts.firstPageOnly: parameters sent with the first page only
  // (Kinesis ListShards refuses StreamName beside NextToken).
  N.paginate = async function (service, operation, params, tokenIn, tokenOut, listKey, opts) {
    const max = (opts && opts.max) || 1000;
    let out = [], token = null, p = Object.assign({}, params || {});
    for (let i = 0; i < 100; i++) {
      if (token) {
        p[tokenIn] = token;
        ((opts && opts.firstPageOnly) || []).forEach((k) => delete p[k]);
      }
      const page = await N.api(service, operation, p, opts);
      out = out.concat(page[listKey] || []);
      token = page[tokenOut];
      if (!token || out.length >= max) break;
    }
    return out;
  };
  // Nimbus's own endpoints that are no AWS operation: N.nimbus("POST", "/_nimbus/firehose/flush/us-east-1/NAME")
  // (flush a delivery stream's buffer now) and N.nimbus("GET", "/_nimbus/firehose/streams") (buffer fill, last delivery, errors)
  N.nimbus = async function (method, path) { return (await N.post("nimbus", { method, path })).data; };
  // A presigned S3 URL ("GetObject" or "PutObject") for the browser to move an object itself.
  N.presign = async function (operation, params, opts) {
    const doc = await N.post("presign", { service: "s3", operation, params, region: (opts && opts.region) || N.state.region, expires: (opts && opts.expires) || 300 });
    return doc.url;
  };

  // --- DOM ------------------------------------------------------------------------------------
  // N.h("button", {class: "primary", onclick: fn, id: "x"}, "text", childNode, [more], null)
  N.h = function (tag, attrs) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else if (k === "value") el.value = v;
        else if (k === "checked") el.checked = !!v;
        else if (k === "dataset") Object.assign(el.dataset, v);
        else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
        else el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    for (let i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  };
  function append(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach((x) => append(el, x)); return; }
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  N.append = append;
  N.clear = function (el) { while (el.firstChild) el.removeChild(el.firstChild); return el; };
  N.link = (href, text, attrs) => N.h("a", Object.assign({ href }, attrs || {}), text);

  // A page: title, breadcrumbs [[text, href]], action buttons, content.
  N.page = function (title, opts) {
    opts = opts || {};
    const crumbs = opts.breadcrumbs ? N.h("div", { class: "breadcrumbs" },
      opts.breadcrumbs.map((c, i) => [i ? " › " : "", c[1] ? N.link(c[1], c[0]) : c[0]])) : null;
    const rest = Array.prototype.slice.call(arguments, 2);
    return N.h("div", { class: "page" }, crumbs,
      N.h("div", { class: "pagehead" }, N.h("h1", { id: opts.id || null }, title), N.h("div", { class: "actions" }, opts.actions || [])), rest);
  };
  N.panel = function (title) { return N.h("section", { class: "panel" }, title ? N.h("h2", {}, title) : null, Array.prototype.slice.call(arguments, 1)); };
  // columns: [{title, get: row => string|Node}]
  N.table = function (columns, rows, opts) {
    opts = opts || {};
    const body = rows.length ? rows.map((r) => N.h("tr", {}, columns.map((c) => N.h("td", {}, c.get(r)))))
      : [N.h("tr", {}, N.h("td", { class: "empty", colspan: columns.length }, opts.empty || "Nothing here yet."))];
    return N.h("table", { class: "grid", id: opts.id || null }, N.h("thead", {}, N.h("tr", {}, columns.map((c) => N.h("th", {}, c.title)))), N.h("tbody", {}, body));
  };
  N.kv = function (pairs) {
    return N.h("dl", { class: "kv" }, pairs.filter((p) => p).map((p) => [N.h("dt", {}, p[0]), N.h("dd", {}, p[1] === undefined || p[1] === null || p[1] === "" ? "-" : p[1])]));
  };
  N.field = function (label, input, help) {
    return N.h("label", { class: "field" }, N.h("span", { class: "label" }, label), input, help ? N.h("span", { class: "help" }, help) : null);
  };
  N.input = (attrs) => N.h("input", Object.assign({ type: "text" }, attrs || {}));
  N.textarea = (attrs) => N.h("textarea", attrs || {});
  // options: ["a", "b"] or [[value, label]]
  N.select = function (options, value, attrs) {
    const s = N.h("select", attrs || {}, options.map((o) => Array.isArray(o) ? N.h("option", { value: o[0] }, o[1]) : N.h("option", { value: o }, o)));
    if (value !== undefined && value !== null) s.value = value;
    return s;
  };
  // A button whose async handler disables it while it runs; a failure is shown as a toast.
  N.button = function (text, handler, opts) {
    opts = opts || {};
    const b = N.h("button", { class: opts.kind || null, id: opts.id || null, type: "button", title: opts.title || null });
    b.textContent = text;
    b.addEventListener("click", async (ev) => {
      ev.preventDefault();
      if (b.disabled) return;
      b.disabled = true;
      try { await handler(ev); }
      catch (e) { N.toast(N.describe(e), "bad"); }
      finally { b.disabled = false; }
    });
    return b;
  };
  N.describe = (e) => (e && e.code ? e.code + ": " : "") + ((e && e.message) || String(e));
  N.errorBox = (e) => N.h("div", { class: "error" }, e && e.code ? N.h("code", {}, e.code) : null, e && e.code ? ": " : "", (e && e.message) || String(e));
  N.toast = function (text, kind) {
    const t = N.h("div", { class: "toast" + (kind === "bad" ? " bad" : "") }, text);
    document.getElementById("toasts").appendChild(t);
    setTimeout(() => t.remove(), kind === "bad" ? 8000 : 3500);
  };
  // actions: [{text, kind, onclick: async () => false keeps the dialog open}]
  N.modal = function (title, body, actions, onCancel) {
    const back = N.h("div", { class: "modal-back" });
    const close = () => back.remove();
    const err = N.h("div");
    const buttons = (actions || []).map((a) => N.button(a.text, async () => {
      N.clear(err);
      try { if ((await a.onclick()) !== false) close(); }
      catch (e) { err.appendChild(N.errorBox(e)); }
    }, { kind: a.kind, id: a.id }));
    buttons.push(N.button("Cancel", async () => { close(); if (onCancel) onCancel(); }, { id: "modal-cancel" }));
    back.appendChild(N.h("div", { class: "modal", role: "dialog" }, N.h("h2", {}, title), body, err, N.h("div", { class: "actions" }, buttons)));
    document.body.appendChild(back);
    return { close };
  };
  // Resolves true on Confirm, false on Cancel.
  N.confirm = (text) => new Promise((resolve) => {
    N.modal("Are you sure?", N.h("p", {}, text), [{ text: "Confirm", kind: "danger", id: "confirm-ok", onclick: async () => resolve(true) }],
      () => resolve(false));
  });
  N.tabs = function (tabs, active) {
    return N.h("div", { class: "tabs" }, tabs.map((t) => N.h("a", { href: t[1], class: t[0] === active ? "active" : null }, t[0])));
  };
  // Run fn every ms until the route changes.
  N.every = function (ms, fn) { const id = setInterval(fn, ms); timers.push(id); return id; };
  N.loading = (view) => { N.clear(view).appendChild(N.h("p", { class: "muted" }, "Loading…")); };

  // --- formatting -----------------------------------------------------------------------------
  N.fmt = {
    time(v) {
      if (v === null || v === undefined || v === "") return "-";
      const d = typeof v === "number" ? new Date(v) : new Date(v);
      return isNaN(d) ? String(v) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
    },
    bytes(n) {
      if (n === null || n === undefined) return "-";
      const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0; n = Number(n);
      while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
      return (i ? n.toFixed(1) : String(n)) + " " + u[i];
    },
    json(v) { try { return JSON.stringify(typeof v === "string" ? JSON.parse(v) : v, null, 2); } catch (e) { return String(v); } },
  };
  N.b64encode = (s) => btoa(String.fromCharCode.apply(null, new TextEncoder().encode(s)));
  N.b64decode = (s) => new TextDecoder().decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));
  // An ARN's last part: "arn:aws:iam::000000000000:role/x" -> "x"
  N.arnName = (arn) => String(arn || "").split(/[:/]/).pop();

  // --- routing --------------------------------------------------------------------------------
  // N.route("/lambda/functions/:name", async (view, params, query) => {...}); hashes look like "#/lambda/functions/x?tab=code"
  N.route = function (pattern, render) {
    const names = [];
    const re = new RegExp("^" + pattern.replace(/\/:(\w+)(\*)?/g, (m, name, star) => { names.push(name); return star ? "/(.+)" : "/([^/]+)"; }) + "/?$");
    routes.push({ re, names, render, pattern });
  };
  // nav entry: N.nav({id: "lambda", title: "Lambda", href: "#/lambda", order: 10})
  N.nav = function (entry) { navs.push(entry); };
  N.go = function (hash) { if (location.hash === hash) N.render(); else location.hash = hash; };
  N.q = encodeURIComponent;
  N.render = async function () {
    timers.forEach(clearInterval); timers = [];
    const serial = ++routeSerial;
    // The raw hash is split first: each :param is decoded once (decodeURIComponent) and the query by
    // URLSearchParams, so a "%" in a name or key survives (link with N.q / encodeURIComponent, once).
    const raw = location.hash.replace(/^#/, "") || "/";
    const qi = raw.indexOf("?");
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const query = Object.fromEntries(new URLSearchParams(qi < 0 ? "" : raw.slice(qi + 1)));
    const view = document.getElementById("view");
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", path.startsWith("/" + a.dataset.id));
    for (const r of routes) {
      const m = path.match(r.re);
      if (!m) continue;
      const params = {};
      N.loading(view);
      const target = N.h("div");
      try {
        r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
        await r.render(target, params, query);
        if (serial === routeSerial) { N.clear(view).appendChild(target); }
      } catch (e) {
        if (serial === routeSerial) { N.clear(view).appendChild(N.h("div", {}, N.h("h1", {}, "Something went wrong"), N.errorBox(e))); }
      }
      return;
    }
    N.clear(view).appendChild(N.h("div", {}, N.h("h1", {}, "Not found"), N.h("p", {}, "No console page at " + path + ".")));
  };
  N.current = () => routeSerial;

  // --- session --------------------------------------------------------------------------------
  N.signedOut = function () {
    N.state.identity = null;
    document.getElementById("whoami").textContent = "";
    document.getElementById("signout").hidden = true;
    N.clear(document.getElementById("nav"));
    const view = N.clear(document.getElementById("view"));
    const err = N.h("div");
    const mode = { value: localStorage.getItem("nimbus.signin") || "user" };
    const account = N.input({ id: "login-account", placeholder: "optional: the account id or alias" });
    const user = N.input({ id: "login-user", autocomplete: "username" });
    const password = N.input({ id: "login-password", type: "password", autocomplete: "current-password" });
    const key = N.input({ id: "login-key", autocomplete: "username" });
    const secret = N.input({ id: "login-secret", type: "password", autocomplete: "current-password" });
    const token = N.input({ id: "login-token" });
    const userFields = N.h("div", { id: "login-user-fields" }, N.field("Account ID or alias", account), N.field("IAM user name", user), N.field("Password", password));
    const keyFields = N.h("div", { id: "login-key-fields" }, N.field("Access key ID", key), N.field("Secret access key", secret), N.field("Session token (temporary keys only)", token));
    const tabs = N.h("div", { class: "tabs" });
    const show = () => {
      userFields.hidden = mode.value !== "user";
      keyFields.hidden = mode.value !== "key";
      N.clear(tabs);
      [["user", "IAM user"], ["key", "Access key"]].forEach((t) => tabs.appendChild(N.h("a", {
        href: "#", id: "login-mode-" + t[0], class: mode.value === t[0] ? "active" : null,
        onclick: (ev) => { ev.preventDefault(); mode.value = t[0]; localStorage.setItem("nimbus.signin", t[0]); show(); },
      }, t[1])));
    };
    const submit = async (ev) => {
      if (ev) ev.preventDefault();
      N.clear(err);
      try {
        if (mode.value === "user") await N.post("login", { account: account.value, userName: user.value, password: password.value });
        else await N.post("login", { accessKeyId: key.value, secretAccessKey: secret.value, sessionToken: token.value });
        location.reload();
      } catch (e) { err.appendChild(N.errorBox(e)); }
    };
    show();
    view.appendChild(N.h("form", { class: "panel login", id: "login-form", onsubmit: submit },
      N.h("h1", {}, "Sign in to Nimbus"),
      tabs,
      N.h("p", { class: "muted" }, "An IAM user signs in with the password an administrator gave it (IAM CreateLoginProfile). Or use an access key: the root keys `make run` printed, or an IAM user's (`nimbus user NAME`). Or run `nimbus console` for a sign-in link."),
      userFields, keyFields,
      err, N.h("button", { class: "primary", type: "submit", id: "login-submit" }, "Sign in")));
  };

  // A password the administrator marked for reset (or one past the policy's age) is changed before anything else.
  N.changePassword = function () {
    const view = N.clear(document.getElementById("view"));
    const old = N.input({ id: "pw-old", type: "password", autocomplete: "current-password" });
    const fresh = N.input({ id: "pw-new", type: "password", autocomplete: "new-password" });
    const again = N.input({ id: "pw-again", type: "password", autocomplete: "new-password" });
    const err = N.h("div");
    const submit = async (ev) => {
      ev.preventDefault();
      N.clear(err);
      if (fresh.value !== again.value) { err.appendChild(N.errorBox({ message: "The new passwords do not match." })); return; }
      try {
        await N.api("iam", "ChangePassword", { OldPassword: old.value, NewPassword: fresh.value });
        location.reload();
      } catch (e) { err.appendChild(N.errorBox(e)); }
    };
    view.appendChild(N.h("form", { class: "panel login", id: "pw-form", onsubmit: submit },
      N.h("h1", {}, "Change your password"),
      N.h("p", { class: "muted" }, "Your password must be changed before you continue."),
      N.field("Current password", old), N.field("New password", fresh), N.field("New password again", again),
      err, N.h("button", { class: "primary", type: "submit", id: "pw-submit" }, "Change password")));
  };

  N.boot = async function () {
    const sel = document.getElementById("region");
    let session;
    try {
      const r = await fetch("/_nimbus/console/api/session", { credentials: "same-origin" });
      session = await r.json();
      if (r.status === 401) { N.signedOut(); return; }
      if (!r.ok) throw new Error((session.error && session.error.message) || "HTTP " + r.status);
    } catch (e) {
      N.clear(document.getElementById("view")).appendChild(N.errorBox(e));
      return;
    }
    N.state.session = session;
    N.state.identity = session.identity;
    N.state.region = localStorage.getItem("nimbus.region") || session.defaultRegion;
    const regions = REGIONS.includes(N.state.region) ? REGIONS : [N.state.region].concat(REGIONS);
    N.clear(sel); regions.forEach((r) => sel.appendChild(N.h("option", { value: r }, r)));
    sel.value = N.state.region;
    sel.addEventListener("change", () => { N.state.region = sel.value; localStorage.setItem("nimbus.region", sel.value); N.render(); });
    document.getElementById("whoami").textContent = session.identity.Arn + (session.authOff ? " (auth off)" : "");
    const out = document.getElementById("signout");
    out.hidden = session.authOff;
    out.addEventListener("click", async () => { await N.post("logout", {}); location.hash = ""; location.reload(); });
    if (session.passwordResetRequired) { N.changePassword(); return; }
    const nav = N.clear(document.getElementById("nav"));
    navs.sort((a, b) => (a.order || 100) - (b.order || 100)).forEach((e) => nav.appendChild(N.h("a", { href: e.href, id: "nav-" + e.id, dataset: { id: e.id } }, e.title)));
    window.addEventListener("hashchange", N.render);
    await N.render();
  };

  // The services' nav entries (each pages/<id>.js registers the routes under #/<id>)
  [["lambda", "Lambda"], ["apigateway", "API Gateway"], ["firehose", "Firehose"], ["kinesis", "Kinesis"], ["s3", "S3"],
    ["logs", "CloudWatch Logs"], ["cloudwatch", "CloudWatch metrics"], ["iam", "IAM"]].forEach((e, i) => N.nav({ id: e[0], title: e[1], href: "#/" + e[0], order: (i + 1) * 10 }));

  // --- home -----------------------------------------------------------------------------------
  N.route("/", async (view) => {
    const count = async (f) => { try { return await f(); } catch (e) { return "?"; } };
    const [fns, streams, kstreams, buckets] = await Promise.all([
      count(async () => (await N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions")).length),
      count(async () => (await N.api("firehose", "ListDeliveryStreams", { Limit: 10000 })).DeliveryStreamNames.length),
      count(async () => (await N.api("kinesis", "ListStreams", {})).StreamNames.length),
      count(async () => (await N.api("s3", "ListBuckets", {})).Buckets.length),
    ]);
    const card = (title, n, href) => N.h("section", { class: "panel" }, N.h("h2", {}, N.link(href, title)), N.h("p", {}, String(n)));
    view.appendChild(N.page("Nimbus", {},
      N.h("p", { class: "muted" }, "Serverless and streaming on your own machine, through the AWS APIs. Region: " + N.state.region + "."),
      N.h("div", { id: "home-cards", style: { display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(200px, 1fr))", gap: "12px" } },
        card("Lambda functions", fns, "#/lambda"), card("Firehose streams", streams, "#/firehose"),
        card("Kinesis streams", kstreams, "#/kinesis"), card("S3 buckets", buckets, "#/s3")),
      N.panel("Use it from code", N.h("pre", { class: "code" },
        "export AWS_ENDPOINT_URL=" + (N.state.session.endpoint || location.origin) + "\nexport AWS_DEFAULT_REGION=" + N.state.region + "\naws lambda list-functions"))));
  });
})();
