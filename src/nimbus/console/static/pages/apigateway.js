"use strict";
// API Gateway: REST APIs (apigateway) and HTTP / WebSocket APIs (apigatewayv2): resources and methods,
// routes and integrations, stages with Nimbus's invoke URLs, deployments, Deploy API, delete. A REST API
// is built here as in AWS's console: Create API, Create resource, Create method (Lambda proxy or mock).
(function () {
  const N = window.Nimbus;
  const enc = encodeURIComponent;
  const endpoint = () => String((N.state.session && N.state.session.endpoint) || location.origin).replace(/\/$/, "");
  // Nimbus serves every API on its own endpoint under /_aws/execute-api/{id}/{stage}/ (the path form, no DNS
  // needed); the host form {id}.execute-api.localhost needs *.localhost to resolve (docs/services/apigateway.md).
  const invokeUrl = (id, stage, ws) => {
    const base = endpoint() + "/_aws/execute-api/" + id + "/" + (stage === "$default" ? "" : enc(stage) + "/");
    return ws ? base.replace(/^http/, "ws").replace(/\/$/, "") : base;
  };
  const hostUrl = (id, stage, ws) => {
    let u;
    try { u = new URL(endpoint()); } catch (e) { return ""; }
    const port = u.port ? ":" + u.port : "";
    return (ws ? "ws" : u.protocol.replace(":", "")) + "://" + id + ".execute-api.localhost" + port + "/" + (stage === "$default" ? "" : stage + (ws ? "" : "/"));
  };
  const urlCell = (url, cls) => N.h("span", {}, N.h("a", { href: url.startsWith("ws") ? null : url, target: "_blank", rel: "noopener", class: cls }, url));
  // The function an integration calls: a REST API's apigateway:...:lambda:path/.../functions/ARN/invocations
  // URI, or an HTTP API's plain function ARN
  const lambdaOf = (uri) => {
    const m = /functions\/(arn:aws:lambda:[^/]+)\/invocations/.exec(String(uri || ""));
    if (m) return m[1];
    return /^arn:aws:lambda:/.test(String(uri || "")) ? String(uri) : null;
  };
  const fnLink = (arn) => N.link("#/lambda/functions/" + enc(N.arnName(arn.split(":").slice(0, 7).join(":"))), N.arnName(arn.split(":").slice(0, 7).join(":")));
  const integrationText = (i) => {
    if (!i) return "-";
    const fn = lambdaOf(i.uri || i.IntegrationUri);
    const type = i.type || i.IntegrationType;
    return N.h("span", {}, type + (fn ? " → Lambda " : i.uri || i.IntegrationUri ? " → " + (i.uri || i.IntegrationUri) : ""), fn ? fnLink(fn) : null);
  };

  async function deleteApi(kind, id, name) {
    if (!(await N.confirm("Delete the API " + name + " (" + id + ")? Its stages and deployments go with it."))) return;
    if (kind === "rest") await N.api("apigateway", "DeleteRestApi", { restApiId: id });
    else await N.api("apigatewayv2", "DeleteApi", { ApiId: id });
    N.toast("Deleted " + name);
    N.go("#/apigateway");
  }

  // --- list ----------------------------------------------------------------------------------
  N.route("/apigateway", async (view) => {
    const err = [];
    const [rest, v2] = await Promise.all([
      N.paginate("apigateway", "GetRestApis", { limit: 500 }, "position", "position", "items").catch((e) => { err.push(e); return []; }),
      N.paginate("apigatewayv2", "GetApis", { MaxResults: "500" }, "NextToken", "NextToken", "Items").catch((e) => { err.push(e); return []; }),
    ]);
    const rows = rest.map((a) => ({ name: a.name, id: a.id, type: "REST", created: a.createdDate, description: a.description, href: "#/apigateway/rest/" + enc(a.id) }))
      .concat(v2.map((a) => ({ name: a.Name, id: a.ApiId, type: a.ProtocolType, created: a.CreatedDate, description: a.Description, href: "#/apigateway/http/" + enc(a.ApiId) })))
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const create = () => {
      const name = N.input({ id: "apigw-new-name", placeholder: "e.g. orders-api" });
      const desc = N.input({ id: "apigw-new-description" });
      N.modal("Create REST API", [N.field("API name", name), N.field("Description", desc)], [{
        text: "Create API", kind: "primary", id: "apigw-new-submit", onclick: async () => {
          if (!name.value.trim()) throw new Error("Name the API.");
          const p = { name: name.value.trim(), endpointConfiguration: { types: ["REGIONAL"] } };
          if (desc.value.trim()) p.description = desc.value.trim();
          const api = await N.api("apigateway", "CreateRestApi", p);
          N.toast("Created " + api.name + " (" + api.id + ")");
          N.go("#/apigateway/rest/" + enc(api.id));
        },
      }]);
    };
    // AWS's "Create HTTP API" with one Lambda integration: apigatewayv2's quick create (Target), which makes
    // the integration, the route and an auto-deploying $default stage; API Gateway is allowed to invoke the function
    const createHttp = async () => {
      const functions = await N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions").catch(() => []);
      const name = N.input({ id: "apigw-http-name", placeholder: "e.g. my-http-api" });
      const fn = N.select(functions.map((f) => [f.FunctionArn, f.FunctionName]), functions.length ? functions[0].FunctionArn : "", { id: "apigw-http-function" });
      const route = N.input({ id: "apigw-http-route", value: "$default" });
      N.modal("Create HTTP API", [N.field("API name", name), N.field("Lambda integration", fn, "API Gateway is given permission to invoke it (Lambda AddPermission)."),
        N.field("Route", route, "$default catches every request; or e.g. GET /items")], [{
        text: "Create API", kind: "primary", id: "apigw-http-submit", onclick: async () => {
          if (!name.value.trim()) throw new Error("Name the API.");
          if (!fn.value) throw new Error("There is no function to integrate: create one in Lambda first.");
          const api = await N.api("apigatewayv2", "CreateApi", { Name: name.value.trim(), ProtocolType: "HTTP", Target: fn.value,
            RouteKey: route.value.trim() || "$default" });
          const parts = fn.value.split(":");
          await N.api("lambda", "AddPermission", { FunctionName: fn.value, StatementId: "nimbus-console-" + api.ApiId + "-" + Math.random().toString(36).slice(2, 10),
            Action: "lambda:InvokeFunction", Principal: "apigateway.amazonaws.com", SourceArn: "arn:aws:execute-api:" + parts[3] + ":" + parts[4] + ":" + api.ApiId + "/*" });
          N.toast("Created " + api.Name + " (" + api.ApiId + ")");
          N.go("#/apigateway/http/" + enc(api.ApiId));
        },
      }]);
    };
    view.appendChild(N.page("APIs", { actions: [N.button("Create REST API", async () => create(), { kind: "primary", id: "apigw-create" }),
      N.button("Create HTTP API", async () => createHttp(), { id: "apigw-create-http" }),
      N.button("Refresh", async () => N.render(), { id: "apigw-refresh" })] },
      err.map((e) => N.errorBox(e)),
      N.table([
        { title: "Name", get: (a) => N.link(a.href, a.name, { class: "apigw-api-link", dataset: { id: a.id } }) },
        { title: "Type", get: (a) => a.type },
        { title: "ID", get: (a) => N.h("code", {}, a.id) },
        { title: "Description", get: (a) => a.description || "" },
        { title: "Created", get: (a) => N.fmt.time(a.created) },
      ], rows, { id: "apigw-apis", empty: "No APIs yet. `nimbus trigger http FUNCTION` creates a REST API for a function, or use the SDK." })));
  });

  // --- REST API ------------------------------------------------------------------------------
  N.route("/apigateway/rest/:id", async (view, params) => {
    const id = params.id;
    const [api, resources, stages, deployments] = await Promise.all([
      N.api("apigateway", "GetRestApi", { restApiId: id }),
      N.paginate("apigateway", "GetResources", { restApiId: id, embed: ["methods"], limit: 500 }, "position", "position", "items"),
      N.api("apigateway", "GetStages", { restApiId: id }).then((r) => r.item || []),
      N.paginate("apigateway", "GetDeployments", { restApiId: id, limit: 500 }, "position", "position", "items"),
    ]);
    // Methods whose integration did not come embedded: ask for it (GetIntegration)
    await Promise.all(resources.flatMap((r) => Object.keys(r.resourceMethods || {}).map(async (verb) => {
      const m = r.resourceMethods[verb] || {};
      if (!m.methodIntegration) {
        try { m.methodIntegration = await N.api("apigateway", "GetIntegration", { restApiId: id, resourceId: r.id, httpMethod: verb }); }
        catch (e) { m.methodIntegration = null; }
        r.resourceMethods[verb] = m;
      }
    })));
    resources.sort((a, b) => a.path.localeCompare(b.path));
    const depth = (p) => (p === "/" ? 0 : p.split("/").length - 1);
    const resourceRows = [];
    for (const r of resources) {
      const verbs = Object.keys(r.resourceMethods || {}).sort();
      const pad = { paddingLeft: 8 + depth(r.path) * 18 + "px", fontFamily: "ui-monospace, Menlo, Consolas, monospace" };
      const dropResource = r.path === "/" ? "" : N.button("Delete resource", async () => {
        if (!(await N.confirm("Delete the resource " + r.path + " with its methods and child resources?"))) return;
        await N.api("apigateway", "DeleteResource", { restApiId: id, resourceId: r.id });
        N.toast("Deleted " + r.path + " (deploy the API to publish the change)"); N.render();
      }, { kind: "link", id: "apigw-resource-delete-" + r.path });
      if (!verbs.length) {
        resourceRows.push(N.h("tr", { class: "apigw-resource", dataset: { path: r.path } }, N.h("td", { style: pad }, r.path), N.h("td", {}, "-"), N.h("td", {}, "-"), N.h("td", {}, ""),
          N.h("td", {}, dropResource)));
      }
      verbs.forEach((verb, i) => {
        const m = r.resourceMethods[verb];
        resourceRows.push(N.h("tr", { class: "apigw-resource", dataset: { path: r.path, method: verb } },
          N.h("td", { style: pad }, i ? "" : r.path),
          N.h("td", {}, N.h("span", { class: "badge" }, verb)),
          N.h("td", {}, integrationText(m.methodIntegration)),
          N.h("td", {}, [m.authorizationType && m.authorizationType !== "NONE" ? "auth " + m.authorizationType : "open", m.apiKeyRequired ? ", API key" : ""].join("")),
          N.h("td", {}, N.button("Delete method", async () => {
            if (!(await N.confirm("Delete the method " + verb + " " + r.path + "?"))) return;
            await N.api("apigateway", "DeleteMethod", { restApiId: id, resourceId: r.id, httpMethod: verb });
            N.toast("Deleted " + verb + " " + r.path + " (deploy the API to publish the change)"); N.render();
          }, { kind: "link", id: "apigw-method-delete-" + verb + "-" + r.path }), i ? "" : [" ", dropResource])));
      });
    }
    const pathOptions = resources.map((r) => [r.id, r.path]);
    const createResource = () => {
      const parent = N.select(pathOptions, (resources.find((r) => r.path === "/") || {}).id, { id: "apigw-resource-parent" });
      const part = N.input({ id: "apigw-resource-part", placeholder: "e.g. orders, {id}" });
      const proxy = N.h("input", { type: "checkbox", id: "apigw-resource-proxy" });
      N.modal("Create resource", [N.field("Resource path (parent)", parent), N.field("Resource name (path part)", part, "A {name} part is a path parameter."),
        N.h("label", { class: "field" }, proxy, " Proxy resource: {proxy+} catches every path below the parent")], [{
        text: "Create resource", kind: "primary", id: "apigw-resource-submit", onclick: async () => {
          const pathPart = proxy.checked ? "{proxy+}" : part.value.trim().replace(/^\/+|\/+$/g, "");
          if (!pathPart) throw new Error("Name the resource, or make it a proxy resource.");
          const r = await N.api("apigateway", "CreateResource", { restApiId: id, parentId: parent.value, pathPart });
          N.toast("Created " + r.path);
          N.render();
        },
      }]);
    };
    const createMethod = async () => {
      const functions = await N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions").catch(() => []);
      const resource = N.select(pathOptions, (resources.find((r) => r.path !== "/") || resources[0] || {}).id, { id: "apigw-method-resource" });
      const verb = N.select(["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], "GET", { id: "apigw-method-verb" });
      const kind = N.select([["lambda", "Lambda function (proxy integration)"], ["mock", "Mock (answers 200 with a fixed body)"]], "lambda", { id: "apigw-method-kind" });
      const fn = N.select(functions.map((f) => [f.FunctionArn, f.FunctionName]), functions.length ? functions[0].FunctionArn : "", { id: "apigw-method-function" });
      const body = N.textarea({ id: "apigw-method-mock-body", rows: 3 });
      body.value = '{"message": "hello from a mock integration"}';
      const auth = N.select([["NONE", "None (open)"], ["AWS_IAM", "AWS IAM (SigV4-signed callers)"]], "NONE", { id: "apigw-method-auth" });
      N.modal("Create method", [N.field("Resource", resource), N.field("Method type", verb), N.field("Integration type", kind),
        N.field("Lambda function", fn, "API Gateway is given permission to invoke it (Lambda AddPermission), as AWS's console does."),
        N.field("Mock response body (200)", body), N.field("Authorization", auth)], [{
        text: "Create method", kind: "primary", id: "apigw-method-submit", onclick: async () => {
          const r = resources.find((x) => x.id === resource.value);
          if (!r) throw new Error("Choose a resource.");
          const httpMethod = verb.value;
          if (kind.value === "lambda" && !fn.value) throw new Error("There is no function to integrate: create one in Lambda first.");
          await N.api("apigateway", "PutMethod", { restApiId: id, resourceId: r.id, httpMethod, authorizationType: auth.value });
          if (kind.value === "lambda") {
            const parts = fn.value.split(":");
            const region = parts[3], account = parts[4];
            await N.api("apigateway", "PutIntegration", { restApiId: id, resourceId: r.id, httpMethod, type: "AWS_PROXY", integrationHttpMethod: "POST",
              uri: "arn:aws:apigateway:" + region + ":lambda:path/2015-03-31/functions/" + fn.value + "/invocations" });
            const path = r.path.replace(/\{[^}]*\}/g, "*");
            await N.api("lambda", "AddPermission", { FunctionName: fn.value, StatementId: "nimbus-console-" + id + "-" + Math.random().toString(36).slice(2, 10),
              Action: "lambda:InvokeFunction", Principal: "apigateway.amazonaws.com",
              SourceArn: "arn:aws:execute-api:" + region + ":" + account + ":" + id + "/*/" + (httpMethod === "ANY" ? "*" : httpMethod) + path });
          } else {
            await N.api("apigateway", "PutIntegration", { restApiId: id, resourceId: r.id, httpMethod, type: "MOCK",
              requestTemplates: { "application/json": '{"statusCode": 200}' } });
            await N.api("apigateway", "PutMethodResponse", { restApiId: id, resourceId: r.id, httpMethod, statusCode: "200" });
            await N.api("apigateway", "PutIntegrationResponse", { restApiId: id, resourceId: r.id, httpMethod, statusCode: "200",
              responseTemplates: { "application/json": body.value } });
          }
          N.toast("Created " + httpMethod + " " + r.path + " (deploy the API to publish it)");
          N.render();
        },
      }]);
    };
    const stageRows = stages.map((s) => N.h("tr", { class: "apigw-stage", dataset: { stage: s.stageName } },
      N.h("td", {}, s.stageName),
      N.h("td", {}, urlCell(invokeUrl(id, s.stageName), "apigw-invoke-url"), N.h("div", { class: "muted" }, hostUrl(id, s.stageName))),
      N.h("td", {}, N.h("code", {}, s.deploymentId || "-")),
      N.h("td", {}, N.fmt.time(s.lastUpdatedDate || s.createdDate)),
      N.h("td", {}, N.button("Delete", async () => {
        if (!(await N.confirm("Delete the stage " + s.stageName + "?"))) return;
        await N.api("apigateway", "DeleteStage", { restApiId: id, stageName: s.stageName }); N.render();
      }, { kind: "link", id: "apigw-stage-delete-" + s.stageName }))));
    const deploy = () => {
      const names = stages.map((s) => s.stageName);
      const sel = N.select(names.map((n) => [n, n]).concat([["", "[New stage]"]]), names[0] || "", { id: "apigw-deploy-stage" });
      const fresh = N.input({ id: "apigw-deploy-new-stage", placeholder: "Stage name, e.g. prod" });
      const desc = N.input({ id: "apigw-deploy-description" });
      N.modal("Deploy API", [N.field("Stage", sel), N.field("New stage name (for [New stage])", fresh), N.field("Deployment description", desc)], [{
        text: "Deploy", kind: "primary", id: "apigw-deploy-submit", onclick: async () => {
          const stage = sel.value || fresh.value.trim();
          if (!stage) throw new Error("Choose a stage or name a new one.");
          const p = { restApiId: id, stageName: stage };
          if (desc.value.trim()) p.description = desc.value.trim();
          const d = await N.api("apigateway", "CreateDeployment", p);
          N.toast("Deployed " + d.id + " to " + stage);
          N.render();
        },
      }]);
    };
    deployments.sort((a, b) => String(b.createdDate).localeCompare(String(a.createdDate)));
    view.appendChild(N.page(api.name, {
      id: "apigw-title", breadcrumbs: [["API Gateway", "#/apigateway"], ["APIs", "#/apigateway"], [api.name + " (" + id + ")"]],
      actions: [N.button("Deploy API", async () => deploy(), { kind: "primary", id: "apigw-deploy" }),
        N.button("Delete API", async () => deleteApi("rest", id, api.name), { kind: "danger", id: "apigw-delete" })],
    },
    N.panel("API details", N.kv([["ID", N.h("code", {}, id)], ["Type", "REST"], ["Description", api.description], ["Created", N.fmt.time(api.createdDate)],
      ["Endpoint type", ((api.endpointConfiguration || {}).types || []).join(", ")], ["API key source", api.apiKeySource],
      ["Binary media types", (api.binaryMediaTypes || []).join(", ")]])),
    N.panel("Resources",
      N.h("div", { class: "actions", style: { marginBottom: "8px" } },
        N.button("Create resource", async () => createResource(), { id: "apigw-resource-create" }),
        N.button("Create method", async () => createMethod(), { id: "apigw-method-create" })),
      N.h("table", { class: "grid", id: "apigw-resources" }, N.h("thead", {}, N.h("tr", {}, ["Resource", "Method", "Integration", "Authorization", ""].map((t) => N.h("th", {}, t)))),
        N.h("tbody", {}, resourceRows))),
    N.panel("Stages",
      N.h("p", { class: "muted" }, "Invoke URLs: the path form needs no DNS; the host form below it needs *.localhost to resolve to this machine. Append a resource path."),
      N.h("table", { class: "grid", id: "apigw-stages" }, N.h("thead", {}, N.h("tr", {}, ["Stage", "Invoke URL", "Deployment", "Updated", ""].map((t) => N.h("th", {}, t)))),
        N.h("tbody", {}, stageRows.length ? stageRows : N.h("tr", {}, N.h("td", { class: "empty", colspan: 5 }, "No stages. Deploy the API to create one."))))),
    N.panel("Deployments", N.table([
      { title: "ID", get: (d) => N.h("code", {}, d.id) },
      { title: "Description", get: (d) => d.description || "" },
      { title: "Stages", get: (d) => stages.filter((s) => s.deploymentId === d.id).map((s) => s.stageName).join(", ") },
      { title: "Created", get: (d) => N.fmt.time(d.createdDate) },
    ], deployments, { id: "apigw-deployments", empty: "No deployments." }))));
  });

  // --- HTTP and WebSocket APIs ---------------------------------------------------------------
  N.route("/apigateway/http/:id", async (view, params) => {
    const id = params.id;
    const [api, routes, integrations, stages] = await Promise.all([
      N.api("apigatewayv2", "GetApi", { ApiId: id }),
      N.paginate("apigatewayv2", "GetRoutes", { ApiId: id, MaxResults: "500" }, "NextToken", "NextToken", "Items"),
      N.paginate("apigatewayv2", "GetIntegrations", { ApiId: id, MaxResults: "500" }, "NextToken", "NextToken", "Items"),
      N.paginate("apigatewayv2", "GetStages", { ApiId: id, MaxResults: "500" }, "NextToken", "NextToken", "Items"),
    ]);
    const ws = api.ProtocolType === "WEBSOCKET";
    const byId = Object.fromEntries(integrations.map((i) => [i.IntegrationId, i]));
    const targetOf = (r) => {
      const m = /^integrations\/(.+)$/.exec(r.Target || "");
      return m ? byId[m[1]] : null;
    };
    routes.sort((a, b) => String(a.RouteKey).localeCompare(String(b.RouteKey)));
    const deploy = () => {
      const names = stages.map((s) => s.StageName);
      const sel = N.select(names.map((n) => [n, n]), names[0] || "", { id: "apigw-deploy-stage" });
      const desc = N.input({ id: "apigw-deploy-description" });
      N.modal("Deploy API", [N.field("Stage", sel, "A stage with automatic deployment takes every change by itself."), N.field("Deployment description", desc)], [{
        text: "Deploy", kind: "primary", id: "apigw-deploy-submit", onclick: async () => {
          if (!sel.value) throw new Error("The API has no stage to deploy to.");
          const p = { ApiId: id, StageName: sel.value };
          if (desc.value.trim()) p.Description = desc.value.trim();
          const d = await N.api("apigatewayv2", "CreateDeployment", p);
          N.toast("Deployed " + d.DeploymentId + " to " + sel.value);
          N.render();
        },
      }]);
    };
    view.appendChild(N.page(api.Name, {
      id: "apigw-title", breadcrumbs: [["API Gateway", "#/apigateway"], ["APIs", "#/apigateway"], [api.Name + " (" + id + ")"]],
      actions: [N.button("Deploy API", async () => deploy(), { id: "apigw-deploy" }),
        N.button("Delete API", async () => deleteApi("http", id, api.Name), { kind: "danger", id: "apigw-delete" })],
    },
    N.panel("API details", N.kv([["ID", N.h("code", {}, id)], ["Type", api.ProtocolType], ["Description", api.Description], ["Created", N.fmt.time(api.CreatedDate)],
      ["Endpoint (AWS's form)", api.ApiEndpoint], ws ? ["Route selection", api.RouteSelectionExpression] : null,
      api.CorsConfiguration ? ["CORS", N.h("pre", { class: "code" }, N.fmt.json(api.CorsConfiguration))] : null])),
    N.panel("Routes", N.table([
      { title: "Route", get: (r) => N.h("code", { class: "apigw-route" }, r.RouteKey) },
      { title: "Integration", get: (r) => integrationText(targetOf(r)) },
      { title: "Authorization", get: (r) => r.AuthorizationType || "NONE" },
      { title: "Route ID", get: (r) => N.h("code", {}, r.RouteId) },
    ], routes, { id: "apigw-routes", empty: "No routes." })),
    N.panel("Integrations", N.table([
      { title: "ID", get: (i) => N.h("code", {}, i.IntegrationId) },
      { title: "Type", get: (i) => i.IntegrationType },
      { title: "Target", get: (i) => { const fn = lambdaOf(i.IntegrationUri); return fn ? N.h("span", {}, "Lambda ", fnLink(fn)) : (i.IntegrationUri || "-"); } },
      { title: "Payload format", get: (i) => i.PayloadFormatVersion || "" },
    ], integrations, { id: "apigw-integrations", empty: "No integrations." })),
    N.panel("Stages", N.table([
      { title: "Stage", get: (s) => s.StageName },
      { title: "Invoke URL", get: (s) => N.h("span", {}, urlCell(invokeUrl(id, s.StageName, ws), "apigw-invoke-url"), N.h("div", { class: "muted" }, hostUrl(id, s.StageName, ws))) },
      { title: "Auto-deploy", get: (s) => (s.AutoDeploy ? "yes" : "no") },
      { title: "Deployment", get: (s) => s.DeploymentId || "-" },
      { title: "Updated", get: (s) => N.fmt.time(s.LastUpdatedDate || s.CreatedDate) },
    ], stages, { id: "apigw-stages", empty: "No stages: the API is not served until it has one." }))));
  });
})();
