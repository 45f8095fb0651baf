"use strict";
// Lambda: the functions list, "Create function" (author from scratch), and a function's page with the
// Code (inline editor, Deploy), Test, Monitor, Configuration, Triggers (function URL, API Gateway) and
// Versions tabs. Every action is the AWS API call AWS's console makes (docs/console/lambda.md).
(function () {
  const N = window.Nimbus;
  const h = N.h;

  const RUNTIMES = [
    ["python3.13", "Python 3.13"], ["python3.12", "Python 3.12"], ["python3.11", "Python 3.11"],
    ["python3.10", "Python 3.10"], ["python3.9", "Python 3.9"],
    ["nodejs22.x", "Node.js 22.x"], ["nodejs20.x", "Node.js 20.x"], ["nodejs18.x", "Node.js 18.x"],
  ];
  const DEFAULT_RUNTIME = "python3.12";
  const BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
  const TRUST = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] };
  const PY_CODE = "import json\n\ndef lambda_handler(event, context):\n    # TODO implement\n    return {\n        'statusCode': 200,\n        'body': json.dumps('Hello from Lambda!')\n    }\n";
  const NODE_CODE = "export const handler = async (event) => {\n  // TODO implement\n  const response = {\n    statusCode: 200,\n    body: JSON.stringify('Hello from Lambda!'),\n  };\n  return response;\n};\n";
  const DEFAULT_EVENT = '{\n  "key1": "value1",\n  "key2": "value2",\n  "key3": "value3"\n}';
  // AWS's blueprint "Process records sent to an Amazon Data Firehose stream" (Python), for a Firehose transform
  const FIREHOSE_CODE = "import base64\n\nprint('Loading function')\n\n\ndef lambda_handler(event, context):\n    output = []\n\n    for record in event['records']:\n        print(record['recordId'])\n        payload = base64.b64decode(record['data']).decode('utf-8')\n\n        # Do custom processing on the payload here\n\n        output_record = {\n            'recordId': record['recordId'],\n            'result': 'Ok',\n            'data': base64.b64encode(payload.encode('utf-8')).decode('utf-8')\n        }\n        output.append(output_record)\n\n    print('Successfully processed {} records.'.format(len(event['records'])))\n\n    return {'records': output}\n";
  const BLUEPRINTS = {
    "firehose-process-record-python": { title: "Process records sent to a Firehose stream (Python)", runtime: "python3.12", timeout: 60,
      files: { "lambda_function.py": FIREHOSE_CODE }, event: "kinesis-firehose",
      help: "A Firehose data transformation: each record's data comes base64-encoded and goes back with result Ok. Timeout 1 minute (Firehose wants at least that)." },
  };
  const sample = JSON.stringify({ ticker_symbol: "HJK", sector: "ENERGY", change: 0.04, price: 4.79 });
  const TEMPLATES = {
    "hello-world": DEFAULT_EVENT,
    "kinesis-firehose": JSON.stringify({ invocationId: "invocationIdExample", deliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/example",
      region: "us-east-1", records: [{ recordId: "49546986683135544286507457936321625675700192471156785154", approximateArrivalTimestamp: 1495072949453, data: btoa(sample) }] }, null, 2),
    "apigateway-aws-proxy": JSON.stringify({ resource: "/hello", path: "/hello", httpMethod: "GET", headers: { Accept: "*/*", Host: "example.execute-api.us-east-1.amazonaws.com" },
      queryStringParameters: { name: "me" }, pathParameters: null, stageVariables: null, requestContext: { resourcePath: "/hello", httpMethod: "GET", stage: "default", requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" },
      body: null, isBase64Encoded: false }, null, 2),
    "kinesis-data-stream": JSON.stringify({ Records: [{ kinesis: { kinesisSchemaVersion: "1.0", partitionKey: "1", sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
      data: btoa(sample), approximateArrivalTimestamp: 1545084650.987 }, eventSource: "aws:kinesis", eventVersion: "1.0",
      eventID: "shardId-000000000006:49590338271490256608559692538361571095921575989136588898", eventName: "aws:kinesis:record", invokeIdentityArn: "arn:aws:iam::123456789012:role/lambda-role",
      awsRegion: "us-east-1", eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/lambda-stream" }] }, null, 2),
  };
  const TEMPLATE_NAMES = [["hello-world", "hello-world"], ["kinesis-firehose", "Firehose: process records"],
    ["apigateway-aws-proxy", "API Gateway AWS proxy"], ["kinesis-data-stream", "Kinesis data stream"]];
  const TABS = [["code", "Code"], ["test", "Test"], ["monitor", "Monitor"], ["configuration", "Configuration"],
    ["triggers", "Triggers"], ["versions", "Versions and aliases"]];

  const eventKey = (name) => "nimbus.lambda.event." + N.state.region + "." + name;
  const fnHash = (name, tab) => "#/lambda/functions/" + N.q(name) + (tab ? "?tab=" + tab : "");
  const fail = (code, message) => Object.assign(new Error(message), { code });
  const endpoint = () => (N.state.session && N.state.session.endpoint) || location.origin;
  const randomSuffix = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");
  const isPython = (runtime) => String(runtime || "").startsWith("python");
  const notFound = (e) => e && (e.code === "ResourceNotFoundException" || e.code === "NotFoundException" || e.code === "NoSuchEntity");

  function bufferToB64(buf) {
    const bytes = new Uint8Array(buf);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  // N.confirm's promise never settles on Cancel (the dialog's own close skips it), which would leave the
  // button that asked disabled: this one settles false on Cancel.
  function confirm(text) {
    return new Promise((resolve) => {
      N.modal("Are you sure?", h("p", {}, text), [{ text: "Confirm", kind: "danger", id: "confirm-ok", onclick: async () => resolve(true) }]);
      const cancels = document.querySelectorAll(".modal-back #modal-cancel");
      if (cancels.length) cancels[cancels.length - 1].addEventListener("click", () => resolve(false));
    });
  }

  // A button whose failure is shown in `box` (on the page), not only as a toast.
  function action(text, box, handler, opts) {
    return N.button(text, async (ev) => {
      if (box) N.clear(box);
      try { await handler(ev); }
      catch (e) { if (box) box.appendChild(N.errorBox(e)); else throw e; }
    }, opts);
  }

  // --- functions list ---------------------------------------------------------------------------
  async function listPage(view) {
    const fns = (await N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions"))
      .sort((a, b) => a.FunctionName.localeCompare(b.FunctionName));
    const filter = N.input({ id: "fn-filter", placeholder: "Filter by function name", style: { maxWidth: "360px", marginBottom: "10px" } });
    const holder = h("div");
    const err = h("div");
    const columns = [
      { title: "Function name", get: (f) => N.link(fnHash(f.FunctionName), f.FunctionName, { class: "fn-link" }) },
      { title: "Description", get: (f) => f.Description || "-" },
      { title: "Package type", get: (f) => f.PackageType || "Zip" },
      { title: "Runtime", get: (f) => f.Runtime || "-" },
      { title: "Memory (MB)", get: (f) => String(f.MemorySize) },
      { title: "Code size", get: (f) => N.fmt.bytes(f.CodeSize) },
      { title: "Last modified", get: (f) => N.fmt.time(f.LastModified) },
      { title: "", get: (f) => action("Delete", err, async () => {
        if (!(await confirm("Delete function " + f.FunctionName + "? This cannot be undone."))) return;
        await N.api("lambda", "DeleteFunction", { FunctionName: f.FunctionName });
        N.toast("Deleted function " + f.FunctionName + ".");
        N.render();
      }, { kind: "danger", id: "delete-" + f.FunctionName }) },
    ];
    const draw = () => {
      const term = filter.value.trim().toLowerCase();
      N.clear(holder).appendChild(N.table(columns, fns.filter((f) => f.FunctionName.toLowerCase().includes(term)),
        { id: "functions", empty: term ? "No function matches." : "No functions yet. Create one." }));
    };
    filter.addEventListener("input", draw);
    draw();
    view.appendChild(N.page("Functions (" + fns.length + ")", {
      breadcrumbs: [["Lambda", "#/lambda"], ["Functions"]],
      actions: [N.button("Refresh", async () => N.render(), { id: "fn-refresh" }),
        N.button("Create function", async () => N.go("#/lambda/create"), { kind: "primary", id: "create-function" })],
    }, err, N.panel(null, filter, holder)));
  }

  // --- create function --------------------------------------------------------------------------
  async function createPage(view) {
    const name = N.input({ id: "fn-name", placeholder: "myFunctionName", autocomplete: "off" });
    const modeScratch = h("input", { type: "radio", name: "create-mode", value: "scratch", id: "mode-scratch", checked: true });
    const modeBlueprint = h("input", { type: "radio", name: "create-mode", value: "blueprint", id: "mode-blueprint" });
    const blueprint = N.select(Object.keys(BLUEPRINTS).map((k) => [k, BLUEPRINTS[k].title]), null, { id: "fn-blueprint" });
    const blueprintHelp = h("span", { class: "help" });
    const blueprintBox = h("div", { class: "field", id: "blueprint-box", hidden: true }, h("span", { class: "label" }, "Blueprint"), blueprint, blueprintHelp);
    const runtime = N.select(RUNTIMES, DEFAULT_RUNTIME, { id: "fn-runtime" });
    const arch = N.select([["x86_64", "x86_64"], ["arm64", "arm64"]], "x86_64", { id: "fn-arch" });
    const roleNew = h("input", { type: "radio", name: "role-mode", value: "new", id: "role-new", checked: true });
    const roleExisting = h("input", { type: "radio", name: "role-mode", value: "existing", id: "role-existing" });
    let roles = [], rolesError = null;
    try { roles = await N.paginate("iam", "ListRoles", {}, "Marker", "Marker", "Roles"); }
    catch (e) { rolesError = e; }
    roles.sort((a, b) => a.RoleName.localeCompare(b.RoleName));
    const roleSel = N.select(roles.map((r) => [r.Arn, r.RoleName]), null, { id: "fn-role" });
    const existingBox = h("div", { id: "existing-role", hidden: true },
      N.field("Existing role", roleSel, rolesError ? "Roles could not be listed: " + N.describe(rolesError) : "Roles in this account; the role must trust lambda.amazonaws.com."));
    const newHelp = h("p", { class: "muted", id: "new-role-help" }, "Lambda creates an execution role named <function>-role-<random> with permission to upload logs to CloudWatch Logs (AWSLambdaBasicExecutionRole).");
    const sync = () => {
      existingBox.hidden = !roleExisting.checked;
      newHelp.hidden = roleExisting.checked;
      blueprintBox.hidden = !modeBlueprint.checked;
      const bp = modeBlueprint.checked ? BLUEPRINTS[blueprint.value] : null;
      if (bp) runtime.value = bp.runtime;
      runtime.disabled = !!bp;
      blueprintHelp.textContent = bp ? bp.help : "";
    };
    [roleNew, roleExisting, modeScratch, modeBlueprint, blueprint].forEach((x) => x.addEventListener("change", sync));
    const err = h("div", { id: "create-error" });
    const progress = h("p", { class: "muted", id: "create-progress" });

    const submit = async () => {
      N.clear(err);
      const fnName = name.value.trim();
      let createdRole = null;
      try {
        if (!fnName) throw fail("ValidationError", "Enter a function name.");
        let roleArn;
        if (roleExisting.checked) {
          roleArn = roleSel.value;
          if (!roleArn) throw fail("ValidationError", "Choose an existing role, or let Lambda create one.");
        } else {
          // the role is named after the function: refuse a name Lambda would refuse before creating it
          if (!/^[A-Za-z0-9_-]{1,64}$/.test(fnName)) throw fail("ValidationError", "Function name must be 1 to 64 characters: letters, numbers, hyphens and underscores.");
          const roleName = fnName.slice(0, 50) + "-role-" + randomSuffix(8);
          progress.textContent = "Creating role " + roleName + "…";
          const r = await N.api("iam", "CreateRole", { RoleName: roleName, Path: "/service-role/", AssumeRolePolicyDocument: JSON.stringify(TRUST),
            Description: "Execution role of the Lambda function " + fnName });
          createdRole = roleName;
          await N.api("iam", "AttachRolePolicy", { RoleName: roleName, PolicyArn: BASIC_EXECUTION });
          roleArn = r.Role.Arn;
        }
        progress.textContent = "Creating function " + fnName + "…";
        const py = isPython(runtime.value);
        const bp = modeBlueprint.checked ? BLUEPRINTS[blueprint.value] : null;
        const params = {
          FunctionName: fnName, Runtime: runtime.value, Role: roleArn, PackageType: "Zip",
          Handler: py ? "lambda_function.lambda_handler" : "index.handler",
          Architectures: [arch.value],
          Code: { ZipFile: { $zip: bp ? bp.files : py ? { "lambda_function.py": PY_CODE } : { "index.mjs": NODE_CODE } } },
        };
        if (bp) params.Timeout = bp.timeout;
        await N.api("lambda", "CreateFunction", params);
        if (bp && bp.event) localStorage.setItem(eventKey(fnName), TEMPLATES[bp.event]);
        N.toast("Successfully created the function " + fnName + ". You can now change its code and configuration.");
        N.go(fnHash(fnName, "code"));
      } catch (e) {
        progress.textContent = "";
        err.appendChild(N.errorBox(e));
        if (createdRole) {  // do not leave the role of a function that was never created
          try {
            await N.api("iam", "DetachRolePolicy", { RoleName: createdRole, PolicyArn: BASIC_EXECUTION });
            await N.api("iam", "DeleteRole", { RoleName: createdRole });
          } catch (e2) { err.appendChild(h("p", { class: "muted" }, "The role " + createdRole + " was created and could not be removed: " + N.describe(e2))); }
        }
      }
    };

    view.appendChild(N.page("Create function", { breadcrumbs: [["Lambda", "#/lambda"], ["Functions", "#/lambda"], ["Create function"]] },
      N.panel("Create function",
        h("div", { class: "field" },
          h("label", {}, modeScratch, " Author from scratch: start with a simple Hello World example"), h("br"),
          h("label", {}, modeBlueprint, " Use a blueprint: sample code and configuration for a common use case")),
        blueprintBox,
        N.field("Function name", name, "1 to 64 characters: letters, numbers, hyphens and underscores."),
        N.field("Runtime", runtime, "The language of the function."),
        N.field("Architecture", arch),
        h("div", { class: "field" }, h("span", { class: "label" }, "Execution role"),
          h("label", {}, roleNew, " Create a new role with basic Lambda permissions"), h("br"),
          h("label", {}, roleExisting, " Use an existing role"), newHelp, existingBox)),
      err, progress,
      h("div", { class: "actions" }, N.button("Cancel", async () => N.go("#/lambda")),
        N.button("Create function", submit, { kind: "primary", id: "fn-create-submit" }))));
  }

  // --- function detail --------------------------------------------------------------------------
  async function detailPage(view, params, query) {
    const name = params.name;
    const tab = TABS.some((t) => t[0] === query.tab) ? query.tab : "code";
    const fn = await N.api("lambda", "GetFunction", { FunctionName: name });
    const cfg = fn.Configuration;
    let url = null, urlError = null;
    try { url = await N.api("lambda", "GetFunctionUrlConfig", { FunctionName: name }); }
    catch (e) { if (!notFound(e)) urlError = e; }  // (shown on the Triggers tab; the page works without it)
    const overview = N.panel("Function overview", N.kv([
      ["Description", cfg.Description],
      ["Runtime", cfg.Runtime || cfg.PackageType],
      ["Last modified", N.fmt.time(cfg.LastModified)],
      ["Function ARN", h("code", { id: "fn-arn" }, cfg.FunctionArn)],
      ["Function URL", url ? N.link(url.FunctionUrl, url.FunctionUrl, { target: "_blank", rel: "noopener" }) : null],
      ["State", h("span", { class: "badge" + (cfg.State === "Active" ? " ok" : cfg.State === "Failed" ? " bad" : ""), id: "fn-state" }, cfg.State || "-")],
    ]));
    const body = h("div", { id: "tab-" + tab });
    const ctx = { name, cfg, fn, url, urlError };
    await ({ code: codeTab, test: testTab, monitor: monitorTab, configuration: configTab, triggers: triggersTab, versions: versionsTab })[tab](body, ctx);
    const del = N.button("Delete", async () => {
      if (!(await confirm("Delete function " + name + "? Its versions, aliases and function URL go with it. This cannot be undone."))) return;
      await N.api("lambda", "DeleteFunction", { FunctionName: name });
      N.toast("Deleted function " + name + ".");
      N.go("#/lambda");
    }, { kind: "danger", id: "fn-delete" });
    view.appendChild(N.page(name, {
      id: "fn-title",
      breadcrumbs: [["Lambda", "#/lambda"], ["Functions", "#/lambda"], [name]],
      actions: [N.button("Refresh", async () => N.render(), { id: "fn-refresh" }), del],
    }, overview, N.tabs(TABS.map((t) => [t[1], fnHash(name, t[0])]), TABS.find((t) => t[0] === tab)[1]), body));
  }

  // Code: the package's files in an editor; Deploy zips them (UpdateFunctionCode).
  async function codeTab(el, ctx) {
    const { name, cfg } = ctx;
    const status = h("div", { id: "deploy-status" });
    const upload = h("input", { type: "file", accept: ".zip,application/zip", id: "code-upload-file" });
    const uploadPanel = N.panel("Upload a .zip file",
      h("p", { class: "muted" }, "Replace the function's code with a deployment package (.zip) from this computer."),
      upload, " ",
      action("Upload", status, async () => {
        const file = upload.files && upload.files[0];
        if (!file) throw fail("ValidationError", "Choose a .zip file first.");
        await N.api("lambda", "UpdateFunctionCode", { FunctionName: name, ZipFile: { $b64: bufferToB64(await file.arrayBuffer()) } });
        N.toast("Successfully updated the function " + name + ".");
        N.render();
      }, { id: "code-upload" }));
    if (cfg.PackageType === "Image") {
      el.appendChild(N.panel("Code source", h("p", { id: "code-unavailable" }, "This function is deployed as a container image (" + ((ctx.fn.Code || {}).ImageUri || "") + "); its code cannot be edited here.")));
      return;
    }
    const doc = await N.post("function-code", { params: { FunctionName: name }, region: N.state.region });
    if (!doc.files) {
      el.append(N.panel("Code source", h("div", { class: "error", id: "code-unavailable" }, "Inline editing unavailable: " + (doc.reason || "the package cannot be shown as text."))), status, uploadPanel);
      return;
    }
    const files = Object.assign({}, doc.files);
    const deployed = JSON.stringify(files);
    const module = String(cfg.Handler || "").replace(/\.[^.]*$/, "");
    const names = () => Object.keys(files).sort();
    let current = names().find((f) => f.replace(/\.(py|mjs|cjs|js|rb)$/, "") === module) || names()[0] || null;
    const picker = N.select(names(), current, { id: "code-file" });
    const editor = N.textarea({ id: "code-editor", class: "code", spellcheck: "false", autocomplete: "off" });
    const dirty = h("span", { class: "badge", id: "code-dirty", style: { display: "none" } }, "Changes not deployed");
    editor.value = current === null ? "" : files[current];
    editor.disabled = current === null;
    let deployedFiles = deployed;
    const changed = () => { dirty.style.display = JSON.stringify(files) === deployedFiles ? "none" : ""; };
    const refreshPicker = () => {
      N.clear(picker);
      names().forEach((f) => picker.appendChild(h("option", { value: f }, f)));
      picker.value = current;
      editor.disabled = current === null;
    };
    editor.addEventListener("input", () => { if (current !== null) files[current] = editor.value; changed(); });
    editor.addEventListener("keydown", (ev) => {  // Tab indents as an editor does
      if (ev.key !== "Tab" || ev.ctrlKey || ev.altKey || ev.metaKey) return;
      ev.preventDefault();
      const indent = current && current.endsWith(".py") ? "    " : "  ";
      const s = editor.selectionStart, e = editor.selectionEnd;
      editor.value = editor.value.slice(0, s) + indent + editor.value.slice(e);
      editor.selectionStart = editor.selectionEnd = s + indent.length;
      editor.dispatchEvent(new Event("input"));
    });
    picker.addEventListener("change", () => {
      if (current !== null) files[current] = editor.value;
      current = picker.value;
      editor.value = files[current];
    });
    const newFile = N.button("New file", async () => {
      const input = N.input({ id: "new-file-name", placeholder: "utils.py" });
      N.modal("New file", N.field("File name (a path inside the package)", input), [{ text: "Create", kind: "primary", id: "new-file-submit", onclick: async () => {
        const f = input.value.trim();
        if (!f || f.startsWith("/") || f.split("/").includes("..")) throw fail("ValidationError", "Enter a relative file name.");
        if (f in files) throw fail("ValidationError", f + " already exists.");
        if (current !== null) files[current] = editor.value;
        files[f] = "";
        current = f;
        refreshPicker();
        editor.value = "";
        changed();
      } }]);
    }, { id: "code-new-file" });
    const removeFile = N.button("Delete file", async () => {
      if (current === null || !(await confirm("Remove " + current + " from the package? It is gone once you deploy."))) return;
      delete files[current];
      current = names()[0] || null;
      refreshPicker();
      editor.value = current === null ? "" : files[current];
      changed();
    }, { id: "code-delete-file" });
    const deploy = action("Deploy", status, async () => {
      if (current !== null) files[current] = editor.value;
      if (!Object.keys(files).length) throw fail("ValidationError", "The package has no files.");
      await N.api("lambda", "UpdateFunctionCode", { FunctionName: name, ZipFile: { $zip: files } });
      status.appendChild(h("div", { class: "ok" }, "Successfully updated the function " + name + "."));
      N.toast("Successfully updated the function " + name + ".");
      deployedFiles = JSON.stringify(files);  // what runs now
      changed();
    }, { kind: "primary", id: "deploy" });
    el.append(N.panel("Code source",
      h("div", { class: "actions", style: { alignItems: "center", marginBottom: "8px" } },
        h("label", {}, "File ", picker), newFile, removeFile, dirty, h("span", { style: { flex: "1" } }),
        N.button("Test", async () => {
          if (dirty.style.display !== "none" && !(await confirm("Your changes are not deployed: the test runs the deployed code. Go to the Test tab anyway?"))) return;
          N.go(fnHash(name, "test"));
        }, { id: "code-to-test" }), deploy),
      editor,
      h("p", { class: "muted" }, "Handler: " + (cfg.Handler || "-") + " · Runtime: " + (cfg.Runtime || "-") + " · Code SHA-256: " + (cfg.CodeSha256 || "-"))),
    status, uploadPanel);
  }

  // Test: Invoke with the event, LogType Tail; the answer, the function error and the log tail.
  async function testTab(el, ctx) {
    const { name } = ctx;
    const key = eventKey(name);
    const event = N.textarea({ id: "test-event", class: "code", spellcheck: "false", style: { minHeight: "180px" } });
    event.value = localStorage.getItem(key) || DEFAULT_EVENT;
    const result = h("div", { id: "test-result" });
    const run = N.button("Test", async () => {
      N.clear(result);
      try { JSON.parse(event.value); }
      catch (e) { result.appendChild(N.errorBox(fail("InvalidEventJSON", "The event is not valid JSON: " + e.message))); return; }
      localStorage.setItem(key, event.value);
      result.appendChild(h("p", { class: "muted" }, "Executing function…"));
      const t0 = performance.now();
      let r;
      try { r = await N.api("lambda", "Invoke", { FunctionName: name, Payload: event.value, LogType: "Tail" }); }
      catch (e) { N.clear(result).appendChild(N.errorBox(e)); return; }
      const ms = Math.round(performance.now() - t0);
      const payload = r.Payload && typeof r.Payload === "object" && r.Payload.$b64 ? "(binary, base64) " + r.Payload.$b64 : (r.Payload || "");
      const logs = r.LogResult ? N.b64decode(r.LogResult) : "";
      const report = /REPORT .*$/m.exec(logs);
      const failed = !!r.FunctionError;
      N.clear(result).appendChild(h("section", { class: "panel" },
        h("div", { class: failed ? "error" : "ok", id: "test-status" },
          failed ? "Executing function: failed (" + r.FunctionError + ")" : "Executing function: succeeded"),
        N.kv([["Status code", String(r.StatusCode)], ["Function error", failed ? h("code", { id: "test-function-error" }, r.FunctionError) : null],
          ["Executed version", r.ExecutedVersion], ["Round trip", ms + " ms"], ["Summary", report ? report[0] : null]]),
        h("h2", {}, "Response"), h("pre", { class: "code", id: "test-payload" }, payload === "" ? "null" : N.fmt.json(payload)),
        h("h2", {}, "Function Logs"), h("pre", { class: "code", id: "test-logs" }, logs || "(no log output)"),
        h("p", {}, N.link(fnHash(name, "monitor"), "Recent log events"))));
    }, { kind: "primary", id: "test-run" });
    const template = N.select([["", "Template…"]].concat(TEMPLATE_NAMES), "", { id: "test-template" });
    template.addEventListener("change", () => { if (template.value) event.value = TEMPLATES[template.value]; template.value = ""; });
    const format = N.button("Format JSON", async () => { event.value = N.fmt.json(event.value); }, { id: "test-format" });
    const reset = N.button("Reset", async () => { event.value = DEFAULT_EVENT; localStorage.removeItem(key); }, { id: "test-reset" });
    el.append(N.panel("Test event",
      h("p", { class: "muted" }, "Invoke the function with this event (synchronously, RequestResponse). The last event you ran is remembered in this browser."),
      event, h("div", { class: "actions", style: { marginTop: "8px" } }, run, format, reset, template)), result);
  }

  // Monitor: the function's newest log events (logs FilterLogEvents over its newest streams).
  async function monitorTab(el, ctx) {
    const group = "/aws/lambda/" + ctx.name;
    const holder = h("div", { id: "log-events" });
    const load = async () => {
      N.clear(holder).appendChild(h("p", { class: "muted" }, "Loading…"));
      let streams;
      try {
        streams = (await N.api("logs", "DescribeLogStreams", { logGroupName: group, orderBy: "LastEventTime", descending: true, limit: 5 })).logStreams || [];
      } catch (e) {
        if (notFound(e)) { N.clear(holder).appendChild(h("p", { class: "muted" }, "No logs yet: the log group " + group + " appears with the first invocation.")); return; }
        N.clear(holder).appendChild(N.errorBox(e)); return;
      }
      let events = [];
      if (streams.length) {
        const start = Math.min.apply(null, streams.map((s) => s.firstEventTimestamp || s.creationTime || 0));
        let token = null;
        try {
          for (let i = 0; i < 20; i++) {
            const p = { logGroupName: group, logStreamNames: streams.map((s) => s.logStreamName), startTime: start, limit: 50 };
            if (token) p.nextToken = token;
            const page = await N.api("logs", "FilterLogEvents", p);
            events = events.concat(page.events || []).slice(-200);
            token = page.nextToken;
            if (!token) break;
          }
        } catch (e) { N.clear(holder).appendChild(N.errorBox(e)); return; }
      }
      events.sort((a, b) => b.timestamp - a.timestamp || (b.eventId || "").localeCompare(a.eventId || ""));
      events = events.slice(0, 50);
      N.clear(holder).appendChild(N.table([
        { title: "Timestamp", get: (e) => N.fmt.time(e.timestamp) },
        { title: "Message", get: (e) => h("pre", { class: "code", style: { margin: "0", maxHeight: "none" } }, String(e.message).replace(/\n$/, "")) },
        { title: "Log stream", get: (e) => h("span", { class: "muted" }, e.logStreamName) },
      ], events, { id: "log-events-table", empty: "No log events yet." }));
    };
    if (N.cloudwatchGraphHref) {
      const dims = [{ Name: "FunctionName", Value: ctx.name }];
      el.appendChild(N.panel("Metrics", h("p", { class: "actions", id: "fn-metrics" },
        [["Invocations", "Sum"], ["Errors", "Sum"], ["Duration", "Average"], ["Throttles", "Sum"], ["ConcurrentExecutions", "Maximum"]].map((m) =>
          N.link(N.cloudwatchGraphHref("AWS/Lambda", m[0], dims, m[1]), m[0], { class: "button" })))));
    }
    el.appendChild(N.panel("Logs",
      h("p", {}, "Lambda sends the function's output to the CloudWatch Logs group ", h("code", {}, group), ". ",
        N.link("#/logs/groups/" + encodeURIComponent(group), "View CloudWatch logs", { id: "logs-link" })),
      h("div", { class: "actions", style: { marginBottom: "8px" } }, N.button("Refresh", load, { id: "logs-refresh" }),
        h("span", { class: "muted" }, "The 50 newest events, newest first.")),
      holder));
    await load();
  }

  // Configuration: general settings, environment variables (UpdateFunctionConfiguration), and what it is.
  async function configTab(el, ctx) {
    const { name, cfg } = ctx;
    const gStatus = h("div", { id: "cfg-status" });
    const description = N.input({ id: "cfg-description", value: cfg.Description || "" });
    const memory = N.input({ id: "cfg-memory", type: "number", min: "128", max: "10240", step: "1", value: String(cfg.MemorySize || 128) });
    const timeout = N.input({ id: "cfg-timeout", type: "number", min: "1", max: "900", step: "1", value: String(cfg.Timeout || 3) });
    const ephemeral = N.input({ id: "cfg-ephemeral", type: "number", min: "512", max: "10240", step: "1", value: String((cfg.EphemeralStorage || {}).Size || 512) });
    const handler = N.input({ id: "cfg-handler", value: cfg.Handler || "" });
    const runtimes = RUNTIMES.some((r) => r[0] === cfg.Runtime) || !cfg.Runtime ? RUNTIMES : [[cfg.Runtime, cfg.Runtime]].concat(RUNTIMES);
    const runtime = N.select(runtimes, cfg.Runtime, { id: "cfg-runtime" });
    const zip = cfg.PackageType !== "Image";
    const save = action("Save", gStatus, async () => {
      const mem = Number(memory.value), t = Number(timeout.value), eph = Number(ephemeral.value);
      if (!Number.isInteger(mem) || mem < 128 || mem > 10240) throw fail("ValidationError", "Memory must be a whole number of MB from 128 to 10240.");
      if (!Number.isInteger(t) || t < 1 || t > 900) throw fail("ValidationError", "Timeout must be a whole number of seconds from 1 to 900.");
      const p = { FunctionName: name, MemorySize: mem, Timeout: t, Description: description.value, EphemeralStorage: { Size: eph } };
      if (zip) { p.Handler = handler.value.trim(); p.Runtime = runtime.value; }
      await N.api("lambda", "UpdateFunctionConfiguration", p);
      N.toast("Successfully updated the function " + name + ".");
      N.render();
    }, { kind: "primary", id: "cfg-save" });

    const eStatus = h("div", { id: "env-status" });
    const rows = h("div", { id: "env-rows" });
    const addRow = (k, v) => {
      const row = h("div", { class: "env-row", style: { display: "flex", gap: "8px", marginBottom: "6px" } },
        N.input({ class: "env-key", placeholder: "Key", value: k || "", style: { maxWidth: "260px" } }),
        N.input({ class: "env-value", placeholder: "Value", value: v || "" }));
      row.appendChild(N.button("Remove", async () => row.remove(), { kind: "danger" }));
      rows.appendChild(row);
    };
    const vars = ((cfg.Environment || {}).Variables) || {};
    Object.keys(vars).sort().forEach((k) => addRow(k, vars[k]));
    const saveEnv = action("Save", eStatus, async () => {
      const out = {};
      for (const row of rows.querySelectorAll(".env-row")) {
        const k = row.querySelector(".env-key").value.trim();
        const v = row.querySelector(".env-value").value;
        if (!k && !v) continue;
        if (!k) throw fail("ValidationError", "Every environment variable needs a key.");
        if (k in out) throw fail("ValidationError", "The key " + k + " appears twice.");
        out[k] = v;
      }
      await N.api("lambda", "UpdateFunctionConfiguration", { FunctionName: name, Environment: { Variables: out } });
      N.toast("Successfully updated the function " + name + ".");
      N.render();
    }, { kind: "primary", id: "env-save" });

    const roleName = N.arnName(cfg.Role);
    el.appendChild(N.panel("General configuration",
      N.field("Description", description),
      N.field("Memory (MB)", memory, "128 MB to 10,240 MB. CPU is allocated in proportion."),
      N.field("Timeout (seconds)", timeout, "1 to 900 seconds (15 minutes)."),
      N.field("Ephemeral storage (MB)", ephemeral, "/tmp: 512 MB to 10,240 MB."),
      zip ? N.field("Runtime", runtime) : null,
      zip ? N.field("Handler", handler, "module.function, e.g. lambda_function.lambda_handler") : null,
      gStatus, save));
    el.appendChild(N.panel("Environment variables",
      h("p", { class: "muted" }, "Key-value pairs the function's code reads from its environment."),
      rows, gap(), h("div", { class: "actions" }, N.button("Add environment variable", async () => addRow("", ""), { id: "env-add" }), saveEnv), eStatus));
    const pStatus = h("div", { id: "role-status" });
    const roleEdit = h("div");
    const editRole = action("Edit", pStatus, async () => {
      const roles = (await N.paginate("iam", "ListRoles", {}, "Marker", "Marker", "Roles")).sort((a, b) => a.RoleName.localeCompare(b.RoleName));
      const choices = roles.map((r) => [r.Arn, r.RoleName]);
      if (!roles.some((r) => r.Arn === cfg.Role)) choices.unshift([cfg.Role, roleName]);
      const sel = N.select(choices, cfg.Role, { id: "cfg-role-select" });
      N.clear(roleEdit).appendChild(h("div", { class: "actions", style: { alignItems: "center", marginTop: "8px" } }, sel,
        action("Save", pStatus, async () => {
          await N.api("lambda", "UpdateFunctionConfiguration", { FunctionName: name, Role: sel.value });
          N.toast("Successfully updated the function " + name + ".");
          N.render();
        }, { kind: "primary", id: "cfg-role-save" })));
    }, { id: "cfg-role-edit" });
    el.appendChild(N.panel("Permissions", N.kv([
      ["Execution role", h("span", {}, h("code", { id: "cfg-role" }, cfg.Role), " ", N.link("#/iam/roles/" + N.q(roleName), "view role"))],
    ]), roleEdit, pStatus, h("div", { style: { marginTop: "8px" } }, editRole)));
    for (const panel of await morePanels(cfg)) el.appendChild(panel);
    el.appendChild(N.panel("Function", N.kv([
      ["Function ARN", cfg.FunctionArn], ["Runtime", cfg.Runtime], ["Handler", cfg.Handler],
      ["Architecture", (cfg.Architectures || []).join(", ")], ["Package type", cfg.PackageType],
      ["Code size", N.fmt.bytes(cfg.CodeSize)], ["Code SHA-256", cfg.CodeSha256],
      ["State", cfg.State], ["Last update status", cfg.LastUpdateStatus], ["Last modified", N.fmt.time(cfg.LastModified)],
      ["Revision", cfg.RevisionId],
    ])));
  }
  const gap = () => h("div", { style: { height: "6px" } });

  // Configuration's other sections, as AWS's console has them: concurrency, asynchronous invocation, layers, tags
  async function morePanels(cfg) {
    const name = cfg.FunctionName;
    const [conc, asyncCfg, tags, layers] = await Promise.all([
      N.api("lambda", "GetFunctionConcurrency", { FunctionName: name }).catch(() => ({})),
      N.api("lambda", "GetFunctionEventInvokeConfig", { FunctionName: name }).catch((e) => { if (notFound(e)) return null; throw e; }),
      N.api("lambda", "ListTags", { Resource: cfg.FunctionArn }).then((r) => r.Tags || {}),
      N.paginate("lambda", "ListLayers", {}, "Marker", "NextMarker", "Layers").catch(() => []),
    ]);
    const saved = async (what) => { N.toast("Saved the " + what + " of " + name + "."); N.render(); };

    // Concurrency: reserved concurrency (empty: the unreserved account pool)
    const cStatus = h("div", { id: "conc-status" });
    const reserved = N.input({ id: "conc-reserved", type: "number", min: "0", step: "1", placeholder: "unreserved",
      value: conc.ReservedConcurrentExecutions === undefined ? "" : String(conc.ReservedConcurrentExecutions) });
    const saveConc = action("Save", cStatus, async () => {
      const v = reserved.value.trim();
      if (v === "") await N.api("lambda", "DeleteFunctionConcurrency", { FunctionName: name });
      else {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw fail("ValidationError", "Reserved concurrency is a whole number, 0 or more (0 stops every invocation).");
        await N.api("lambda", "PutFunctionConcurrency", { FunctionName: name, ReservedConcurrentExecutions: n });
      }
      await saved("concurrency");
    }, { kind: "primary", id: "conc-save" });

    // Asynchronous invocation: retries, maximum event age, destinations
    const aStatus = h("div", { id: "async-status" });
    const a = asyncCfg || {};
    const dest = a.DestinationConfig || {};
    const retries = N.select([["2", "2 (default)"], ["1", "1"], ["0", "0"]], String(a.MaximumRetryAttempts === undefined ? 2 : a.MaximumRetryAttempts), { id: "async-retries" });
    const age = N.input({ id: "async-age", type: "number", min: "60", max: "21600", step: "1", value: String(a.MaximumEventAgeInSeconds || 21600) });
    const onSuccess = N.input({ id: "async-on-success", placeholder: "ARN, e.g. another function's", value: (dest.OnSuccess || {}).Destination || "" });
    const onFailure = N.input({ id: "async-on-failure", placeholder: "ARN, e.g. another function's", value: (dest.OnFailure || {}).Destination || "" });
    const saveAsync = action("Save", aStatus, async () => {
      const sec = Number(age.value);
      if (!Number.isInteger(sec) || sec < 60 || sec > 21600) throw fail("ValidationError", "Maximum event age is 60 to 21,600 seconds (6 hours).");
      const d = {};
      if (onSuccess.value.trim()) d.OnSuccess = { Destination: onSuccess.value.trim() };
      if (onFailure.value.trim()) d.OnFailure = { Destination: onFailure.value.trim() };
      await N.api("lambda", "PutFunctionEventInvokeConfig", { FunctionName: name, MaximumRetryAttempts: Number(retries.value),
        MaximumEventAgeInSeconds: sec, DestinationConfig: d });
      await saved("asynchronous invocation settings");
    }, { kind: "primary", id: "async-save" });
    const resetAsync = asyncCfg ? action("Reset to defaults", aStatus, async () => {
      await N.api("lambda", "DeleteFunctionEventInvokeConfig", { FunctionName: name });
      await saved("asynchronous invocation settings");
    }, { id: "async-reset" }) : null;

    // Layers: the function's layer versions, in order; add one of the account's, or any layer version ARN
    const lStatus = h("div", { id: "layers-status" });
    const current = (cfg.Layers || []).map((l) => l.Arn);
    const setLayers = async (arns) => {
      await N.api("lambda", "UpdateFunctionConfiguration", { FunctionName: name, Layers: arns });
      await saved("layers");
    };
    const layerChoice = N.select([["", "Choose a layer version…"]].concat(layers.map((l) => [l.LatestMatchingVersion.LayerVersionArn,
      l.LayerName + " (version " + l.LatestMatchingVersion.Version + ")"])), "", { id: "layer-select" });
    const layerArn = N.input({ id: "layer-arn", placeholder: "or a layer version ARN" });
    const addLayer = action("Add a layer", lStatus, async () => {
      const arn = layerArn.value.trim() || layerChoice.value;
      if (!arn) throw fail("ValidationError", "Choose a layer version or type its ARN.");
      if (current.length >= 5) throw fail("ValidationError", "A function can use at most 5 layers.");
      await setLayers(current.concat([arn]));
    }, { id: "layer-add" });

    // Tags
    const tStatus = h("div", { id: "tags-status" });
    const tagKey = N.input({ id: "tag-key", placeholder: "Key", style: { maxWidth: "240px" } });
    const tagValue = N.input({ id: "tag-value", placeholder: "Value" });
    const addTag = action("Add tag", tStatus, async () => {
      if (!tagKey.value.trim()) throw fail("ValidationError", "A tag needs a key.");
      await N.api("lambda", "TagResource", { Resource: cfg.FunctionArn, Tags: { [tagKey.value.trim()]: tagValue.value } });
      await saved("tags");
    }, { id: "tag-add" });

    return [
      N.panel("Concurrency",
        N.field("Reserved concurrency", reserved, "Empty: the function draws on the account's unreserved concurrency. At the limit, synchronous calls get TooManyRequestsException (429)."),
        cStatus, saveConc),
      N.panel("Asynchronous invocation",
        N.field("Retry attempts", retries, "After a failed asynchronous invocation."),
        N.field("Maximum age of event (seconds)", age, "An event older than this is dropped (or sent to the on-failure destination)."),
        N.field("On success destination", onSuccess), N.field("On failure destination", onFailure, "Lambda functions are invoked; other ARNs are recorded (docs/services/lambda.md)."),
        aStatus, h("div", { class: "actions" }, saveAsync, resetAsync)),
      N.panel("Layers",
        N.table([
          { title: "Order", get: (arn) => String(current.indexOf(arn) + 1) },
          { title: "Layer version ARN", get: (arn) => h("code", {}, arn) },
          { title: "", get: (arn) => action("Remove", lStatus, async () => setLayers(current.filter((x) => x !== arn)),
            { kind: "link", id: "layer-remove-" + current.indexOf(arn) }) },
        ], current, { id: "fn-layers", empty: "No layers." }),
        gap(), h("div", { class: "actions", style: { alignItems: "center" } }, layerChoice, layerArn, addLayer), lStatus),
      N.panel("Tags",
        N.table([
          { title: "Key", get: (k) => k },
          { title: "Value", get: (k) => tags[k] },
          { title: "", get: (k) => action("Remove", tStatus, async () => {
            await N.api("lambda", "UntagResource", { Resource: cfg.FunctionArn, TagKeys: [k] });
            await saved("tags");
          }, { kind: "link", id: "tag-remove-" + k }) },
        ], Object.keys(tags).sort(), { id: "fn-tags", empty: "No tags." }),
        gap(), h("div", { class: "actions", style: { alignItems: "center" } }, tagKey, tagValue, addTag), tStatus),
    ];
  }

  // Triggers: the function URL, API Gateway triggers (from the function's policy) and event source mappings.
  async function triggersTab(el, ctx) {
    el.appendChild(await urlPanel(ctx));
    el.appendChild(await apigwPanel(ctx));
    el.appendChild(await mappingsPanel(ctx));
  }

  function urlPathForm(u) {
    const id = new URL(u).hostname.split(".")[0];
    return endpoint() + "/_aws/lambda-url/" + id + "/";
  }

  async function urlPanel(ctx) {
    const { name, url } = ctx;
    const status = h("div", { id: "url-status" });
    if (ctx.urlError) return N.panel("Function URL", N.errorBox(ctx.urlError));
    if (url) {
      const del = action("Delete", status, async () => {
        if (!(await confirm("Delete the function URL? Callers of " + url.FunctionUrl + " get errors from now on."))) return;
        await N.api("lambda", "DeleteFunctionUrlConfig", { FunctionName: name });
        try { await N.api("lambda", "RemovePermission", { FunctionName: name, StatementId: "FunctionURLAllowPublicAccess" }); }
        catch (e) { if (!notFound(e)) throw e; }
        N.toast("Deleted the function URL.");
        N.render();
      }, { kind: "danger", id: "url-delete" });
      return N.panel("Function URL",
        N.kv([["URL", N.link(url.FunctionUrl, url.FunctionUrl, { id: "url-link", target: "_blank", rel: "noopener" })],
          ["Without DNS", N.link(urlPathForm(url.FunctionUrl), urlPathForm(url.FunctionUrl), { id: "url-path-link", target: "_blank", rel: "noopener" })],
          ["Auth type", h("span", { id: "url-auth-type" }, url.AuthType)], ["Invoke mode", url.InvokeMode],
          ["CORS", url.Cors ? "origins " + (url.Cors.AllowOrigins || []).join(", ") : "off"], ["Created", N.fmt.time(url.CreationTime)]]),
        h("p", { class: "muted" }, url.AuthType === "AWS_IAM" ? "Callers sign requests with SigV4 (service lambda)." : "Anyone with the URL can invoke the function."),
        status, del);
    }
    const auth = N.select([["NONE", "NONE: public, no authentication"], ["AWS_IAM", "AWS_IAM: callers sign with SigV4"]], "NONE", { id: "url-auth" });
    const cors = h("input", { type: "checkbox", id: "url-cors" });
    const create = action("Create function URL", status, async () => {
      const p = { FunctionName: name, AuthType: auth.value };
      if (cors.checked) p.Cors = { AllowOrigins: ["*"], AllowMethods: ["*"], AllowHeaders: ["*"] };
      await N.api("lambda", "CreateFunctionUrlConfig", p);
      if (auth.value === "NONE") {  // AWS's console adds the public-access statement with a NONE URL
        try {
          await N.api("lambda", "AddPermission", { FunctionName: name, StatementId: "FunctionURLAllowPublicAccess", Action: "lambda:InvokeFunctionUrl",
            Principal: "*", FunctionUrlAuthType: "NONE" });
        } catch (e) { if (e.code !== "ResourceConflictException") throw e; }
      }
      N.toast("Created the function URL.");
      N.render();
    }, { kind: "primary", id: "url-create" });
    return N.panel("Function URL",
      h("p", { class: "muted" }, "A dedicated HTTPS-style endpoint for the function (no API Gateway)."),
      N.field("Auth type", auth),
      h("div", { class: "field" }, h("label", {}, cors, " Configure cross-origin resource sharing (CORS): allow any origin, method and header")),
      status, create);
  }

  function apigwUrls(apiId, stage, path) {
    const ep = new URL(endpoint());
    return [endpoint() + "/_aws/execute-api/" + apiId + "/" + stage + path,
      ep.protocol + "//" + apiId + ".execute-api.localhost" + (ep.port ? ":" + ep.port : "") + "/" + stage + path];
  }

  async function apigwPanel(ctx) {
    const { name, cfg } = ctx;
    const status = h("div", { id: "apigw-status" });
    const result = h("div", { id: "apigw-result" });
    let statements = [];
    try { statements = JSON.parse((await N.api("lambda", "GetPolicy", { FunctionName: name })).Policy).Statement || []; }
    catch (e) { if (!notFound(e)) status.appendChild(N.errorBox(e)); }
    const triggers = [];
    for (const s of statements) {
      const principal = s.Principal && (s.Principal.Service || s.Principal);
      if (principal !== "apigateway.amazonaws.com") continue;
      const source = ((s.Condition || {}).ArnLike || {})["AWS:SourceArn"] || "";
      const m = /^arn:[^:]+:execute-api:[^:]*:[^:]*:([^/]+)\/([^/]+)\/([^/]+)(\/.*)?$/.exec(source);
      const t = { sid: s.Sid, source, apiId: m ? m[1] : null, stage: m ? m[2] : null, method: m ? m[3] : null, path: m && m[4] ? m[4] : "/", api: null, stages: [] };
      if (t.apiId) {
        try {
          t.api = await N.api("apigateway", "GetRestApi", { restApiId: t.apiId });
          t.stages = ((await N.api("apigateway", "GetStages", { restApiId: t.apiId })).item || []).map((x) => x.stageName);
        } catch (e) { if (!notFound(e)) t.error = e; }
      }
      triggers.push(t);
    }
    const rows = triggers.map((t) => {
      const stages = t.stage && t.stage !== "*" ? [t.stage] : t.stages;
      const path = t.path.includes("*") ? "/" : t.path;
      return Object.assign(t, { urls: t.api ? stages.map((st) => apigwUrls(t.apiId, st, path)[0]) : [] });
    });
    const table = N.table([
      { title: "API", get: (t) => t.api ? h("span", {}, t.api.name + " ", h("span", { class: "muted" }, "(" + t.apiId + ")")) : h("span", { class: "muted" }, (t.apiId || t.source) + (t.error ? ": " + N.describe(t.error) : " (API not found)")) },
      { title: "API endpoint", get: (t) => t.urls.length ? t.urls.map((u) => h("div", {}, N.link(u, u, { class: "apigw-link", target: "_blank", rel: "noopener" }))) : "-" },
      { title: "Method", get: (t) => t.method === "*" ? "ANY" : t.method || "-" },
      { title: "", get: (t) => action("Remove", status, async () => {
        if (!(await confirm("Remove this trigger? The function stops accepting calls from API " + (t.apiId || "") + "; the API itself is kept."))) return;
        await N.api("lambda", "RemovePermission", { FunctionName: name, StatementId: t.sid });
        N.render();
      }, { kind: "danger" }) },
    ], rows, { id: "apigw-triggers", empty: "No API Gateway trigger." });

    const add = N.button("Add trigger: API Gateway", async () => {
      const security = N.select([["open", "Open"], ["api-key", "API key"], ["iam", "IAM"]], "open", { id: "apigw-security" });
      const stage = N.input({ id: "apigw-stage", value: "default" });
      N.modal("Add trigger: API Gateway", h("div", {},
        h("p", { class: "muted" }, "Creates a REST API " + name + "-API with a /" + name + " resource (method ANY, Lambda proxy integration), deploys it and lets API Gateway invoke the function."),
        N.field("Security", security, "Open: anyone with the URL. API key: callers send x-api-key. IAM: callers sign with SigV4."),
        N.field("Deployment stage", stage)), [{ text: "Add", kind: "primary", id: "apigw-submit", onclick: async () => {
        const st = stage.value.trim() || "default";
        const out = await createHttpTrigger(cfg, security.value, st);
        N.toast("The trigger " + name + "-API was added.");
        await refresh(out);
      } }]);
    }, { kind: "primary", id: "apigw-add" });

    const panel = N.panel("API Gateway triggers", h("div", { class: "actions", style: { marginBottom: "8px" } }, add), result, status, table);
    const refresh = async (out) => {
      const fresh = await apigwPanel(ctx);
      panel.replaceWith(fresh);
      const box = fresh.querySelector("#apigw-result");
      box.appendChild(h("div", { class: "ok" }, "API endpoint: ", N.link(out.url, out.url, { id: "apigw-url", target: "_blank", rel: "noopener" }),
        h("div", { class: "muted" }, "also: " + out.hostUrl + " (where *.localhost resolves to 127.0.0.1)"),
        out.apiKey ? h("div", {}, "API key: ", h("code", { id: "apigw-key" }, out.apiKey), " (send it in the x-api-key header)") : null,
        out.security === "iam" ? h("div", {}, "Callers sign requests with SigV4, service execute-api.") : null));
    };
    return panel;
  }

  // What `nimbus trigger http` does (src/nimbus/cli/trigger.py), as the same API calls.
  async function createHttpTrigger(cfg, security, stage) {
    const name = cfg.FunctionName, fnArn = cfg.FunctionArn;
    const parts = fnArn.split(":");
    const region = parts[3], account = parts[4];
    const api = await N.api("apigateway", "CreateRestApi", { name: name + "-API", description: "Created by the Nimbus console (Lambda trigger)", endpointConfiguration: { types: ["REGIONAL"] } });
    const apiId = api.id;
    const resource = await N.api("apigateway", "CreateResource", { restApiId: apiId, parentId: api.rootResourceId, pathPart: name });
    await N.api("apigateway", "PutMethod", { restApiId: apiId, resourceId: resource.id, httpMethod: "ANY",
      authorizationType: security === "iam" ? "AWS_IAM" : "NONE", apiKeyRequired: security === "api-key" });
    await N.api("apigateway", "PutIntegration", { restApiId: apiId, resourceId: resource.id, httpMethod: "ANY", type: "AWS_PROXY",
      integrationHttpMethod: "POST", uri: "arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + fnArn + "/invocations" });
    await N.api("apigateway", "CreateDeployment", { restApiId: apiId, stageName: stage });
    await N.api("lambda", "AddPermission", { FunctionName: fnArn, StatementId: "nimbus-console-" + apiId + "-" + randomSuffix(8),
      Action: "lambda:InvokeFunction", Principal: "apigateway.amazonaws.com", SourceArn: "arn:aws:execute-api:" + region + ":" + account + ":" + apiId + "/*/*/" + name });
    const out = { restApiId: apiId, stage, security };
    if (security === "api-key") {
      const key = await N.api("apigateway", "CreateApiKey", { name: name + "-key", enabled: true });
      const plan = await N.api("apigateway", "CreateUsagePlan", { name: name + "-UsagePlan", apiStages: [{ apiId, stage }] });
      await N.api("apigateway", "CreateUsagePlanKey", { usagePlanId: plan.id, keyId: key.id, keyType: "API_KEY" });
      out.apiKey = key.value;
    }
    [out.url, out.hostUrl] = apigwUrls(apiId, stage, "/" + name);
    return out;
  }

  async function mappingsPanel(ctx) {
    const status = h("div");
    let mappings = [];
    try { mappings = await N.paginate("lambda", "ListEventSourceMappings", { FunctionName: ctx.name }, "Marker", "NextMarker", "EventSourceMappings"); }
    catch (e) { status.appendChild(N.errorBox(e)); }
    return N.panel("Event source mappings",
      h("p", { class: "muted" }, "Streams and queues Lambda polls for this function (CreateEventSourceMapping)."), status,
      N.table([
        { title: "Event source", get: (m) => m.EventSourceArn || "-" },
        { title: "State", get: (m) => m.State || "-" },
        { title: "Batch size", get: (m) => String(m.BatchSize || "-") },
        { title: "Last result", get: (m) => m.LastProcessingResult || "-" },
        { title: "", get: (m) => action("Delete", status, async () => {
          if (!(await confirm("Delete the mapping from " + m.EventSourceArn + "?"))) return;
          await N.api("lambda", "DeleteEventSourceMapping", { UUID: m.UUID });
          N.render();
        }, { kind: "danger" }) },
      ], mappings, { id: "event-source-mappings", empty: "No event source mapping." }));
  }

  // Versions and aliases: ListVersionsByFunction, PublishVersion, ListAliases, CreateAlias, DeleteAlias.
  async function versionsTab(el, ctx) {
    const { name } = ctx;
    const status = h("div", { id: "versions-status" });
    const [versions, aliases] = await Promise.all([
      N.paginate("lambda", "ListVersionsByFunction", { FunctionName: name }, "Marker", "NextMarker", "Versions"),
      N.paginate("lambda", "ListAliases", { FunctionName: name }, "Marker", "NextMarker", "Aliases"),
    ]);
    const numbered = versions.filter((v) => v.Version !== "$LATEST");
    const publish = N.button("Publish new version", async () => {
      const desc = N.input({ id: "publish-description" });
      N.modal("Publish new version from $LATEST", N.field("Version description", desc), [{ text: "Publish", kind: "primary", id: "publish-submit", onclick: async () => {
        const v = await N.api("lambda", "PublishVersion", { FunctionName: name, Description: desc.value });
        N.toast("Published version " + v.Version + ".");
        N.render();
      } }]);
    }, { kind: "primary", id: "publish-version" });
    const createAlias = N.button("Create alias", async () => {
      const aname = N.input({ id: "alias-name" });
      const adesc = N.input({ id: "alias-description" });
      const aver = N.select(["$LATEST"].concat(numbered.map((v) => v.Version).reverse()), numbered.length ? numbered[numbered.length - 1].Version : "$LATEST", { id: "alias-version" });
      N.modal("Create alias", h("div", {}, N.field("Name", aname), N.field("Description", adesc), N.field("Version", aver)),
        [{ text: "Save", kind: "primary", id: "alias-submit", onclick: async () => {
          await N.api("lambda", "CreateAlias", { FunctionName: name, Name: aname.value.trim(), FunctionVersion: aver.value, Description: adesc.value });
          N.toast("Created alias " + aname.value.trim() + ".");
          N.render();
        } }]);
    }, { id: "alias-create" });
    el.appendChild(N.panel("Versions", h("div", { class: "actions", style: { marginBottom: "8px" } }, publish), N.table([
      { title: "Version", get: (v) => v.Version },
      { title: "Description", get: (v) => v.Description || "-" },
      { title: "Runtime", get: (v) => v.Runtime || "-" },
      { title: "Code SHA-256", get: (v) => h("code", {}, v.CodeSha256 || "-") },
      { title: "Last modified", get: (v) => N.fmt.time(v.LastModified) },
    ], versions.slice().reverse(), { id: "versions" })));
    el.appendChild(N.panel("Aliases", h("div", { class: "actions", style: { marginBottom: "8px" } }, createAlias), status, N.table([
      { title: "Name", get: (a) => a.Name },
      { title: "Version", get: (a) => a.FunctionVersion },
      { title: "Description", get: (a) => a.Description || "-" },
      { title: "ARN", get: (a) => h("code", {}, a.AliasArn) },
      { title: "", get: (a) => action("Delete", status, async () => {
        if (!(await confirm("Delete alias " + a.Name + "?"))) return;
        await N.api("lambda", "DeleteAlias", { FunctionName: name, Name: a.Name });
        N.render();
      }, { kind: "danger" }) },
    ], aliases, { id: "aliases", empty: "No aliases." })));
  }

  N.route("/lambda", listPage);
  N.route("/lambda/functions", listPage);
  N.route("/lambda/create", createPage);
  N.route("/lambda/functions/:name", detailPage);
})();
