// Nimbus's runtime client for nodejs*.x functions: the Lambda Runtime API loop (aws-contracts C.3).
//
// Loads the handler named by _HANDLER ("dir/file.export.path") from LAMBDA_TASK_ROOT the way AWS's Node
// runtime does (.js as CommonJS or, under "type": "module" or when require() refuses, as an ES module;
// .mjs and .cjs by extension), then answers invocations one at a time: async handlers, handlers that
// return a promise, and callback-style handlers (event, context, callback), with AWS's context object.
// console.* lines are written as AWS's Node runtime writes them: "<ISO time>\t<request id>\t<LEVEL>\t<msg>",
// newlines inside one message kept as \r so that a message stays one log event.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";
import { Writable } from "node:stream";

const [HOST, PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || "127.0.0.1:9001").split(":");
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || process.cwd();

let currentRequestId = "";

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      { host: HOST, port: Number(PORT), path: urlPath, method, agent,
        headers: { ...headers, ...(data ? { "Content-Type": "application/json", "Content-Length": data.length } : {}) } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

// --- logging ------------------------------------------------------------------------------------
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

function patchConsole() {
  // LoggingConfig LogFormat JSON: one JSON record per call, below AWS_LAMBDA_LOG_LEVEL dropped (as AWS does)
  const json = process.env.AWS_LAMBDA_LOG_FORMAT === "JSON";
  const min = json ? Math.max(0, LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || "INFO").toUpperCase())) : 0;
  const write = (level) => {
    if (LEVELS.indexOf(level) < min) return () => {};
    return (...args) => {
      if (json) {
        const record = { timestamp: new Date().toISOString(), level, requestId: currentRequestId || undefined, message: util.format(...args) };
        process.stdout.write(JSON.stringify(record) + "\n");
        return;
      }
      const msg = util.format(...args).replace(/\n/g, "\r");
      process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || "undefined"}\t${level}\t${msg}\n`);
    };
  };
  console.log = write("INFO");
  console.info = write("INFO");
  console.warn = write("WARN");
  console.error = write("ERROR");
  console.debug = write("DEBUG");
  const trace = write("TRACE");
  console.trace = (...args) => trace(...args, "\n" + new Error().stack.split("\n").slice(2).join("\n"));
  console.fatal = write("FATAL");
}

// --- errors -------------------------------------------------------------------------------------
function errorBody(err) {
  if (err instanceof Error) {
    return { errorType: err.name || "Error", errorMessage: err.message, trace: String(err.stack || "").split("\n") };
  }
  if (typeof err === "string") return { errorType: "string", errorMessage: err, trace: [] };
  try {
    return { errorType: typeof err, errorMessage: JSON.stringify(err), trace: [] };
  } catch {
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  }
}

class ImportModuleError extends Error { constructor(m) { super(m); this.name = "Runtime.ImportModuleError"; } }
class HandlerNotFound extends Error { constructor(m) { super(m); this.name = "Runtime.HandlerNotFound"; } }
class MalformedHandlerName extends Error { constructor(m) { super(m); this.name = "Runtime.MalformedHandlerName"; } }
class UserCodeSyntaxError extends Error { constructor(m) { super(m); this.name = "Runtime.UserCodeSyntaxError"; } }

async function postInitError(err) {
  const body = errorBody(err);
  console.error(`${body.errorType}: ${body.errorMessage}`);
  await call("POST", `${BASE}/init/error`, JSON.stringify(body), { "Lambda-Runtime-Function-Error-Type": body.errorType });
}

// --- handler loading (AWS's rules) --------------------------------------------------------------
function packageType(dir) {
  for (let d = dir; d.startsWith(TASK_ROOT) || d === TASK_ROOT; d = path.dirname(d)) {
    const p = path.join(d, "package.json");
    if (fs.existsSync(p)) {
      try { return JSON.parse(fs.readFileSync(p, "utf8")).type || "commonjs"; } catch { return "commonjs"; }
    }
    if (d === path.dirname(d)) break;
  }
  return "commonjs";
}

async function loadModule(root, name) {
  const base = path.resolve(root, name);
  const require = createRequire(path.join(root, "noop.js"));
  for (const ext of [".js", ".mjs", ".cjs"]) {
    const file = base + ext;
    if (!fs.existsSync(file)) continue;
    try {
      if (ext === ".mjs" || (ext === ".js" && packageType(path.dirname(file)) === "module")) {
        return await import(pathToFileURL(file).href);
      }
      try {
        return require(file);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") return await import(pathToFileURL(file).href);
        throw e;
      }
    } catch (e) {
      if (e instanceof SyntaxError) throw new UserCodeSyntaxError(`${e.name}: ${e.message}`);
      throw e;
    }
  }
  try {
    return require(name);  // a package in node_modules (or NODE_PATH: layers, the runtime's SDK)
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND") {
      throw new ImportModuleError(`Error: Cannot find module '${name}'\nRequire stack:\n- /var/runtime/index.mjs`);
    }
    throw e;
  }
}

async function loadHandler(full) {
  const slash = full.lastIndexOf("/");
  const dir = slash >= 0 ? full.slice(0, slash) : "";
  const rest = slash >= 0 ? full.slice(slash + 1) : full;
  const dot = rest.indexOf(".");
  if (dot < 0) throw new MalformedHandlerName("Bad handler");
  const moduleName = rest.slice(0, dot);
  const exportPath = rest.slice(dot + 1);
  const mod = await loadModule(path.resolve(TASK_ROOT, dir), moduleName);
  let fn = mod;
  for (const part of exportPath.split(".")) {
    fn = fn == null ? undefined : (fn[part] !== undefined ? fn[part] : (fn.default && fn.default[part]));
  }
  if (fn === undefined) throw new HandlerNotFound(`${full} is undefined or not exported`);
  if (typeof fn !== "function") throw new HandlerNotFound(`${full} is not a function`);
  return fn;
}

// --- response streaming (awslambda.streamifyResponse, as AWS's Node runtime offers it) --------------
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response";

globalThis.awslambda = {
  streamifyResponse(handler, options) {
    handler[STREAMING] = "response";
    if (options && options.highWaterMark) handler.highWaterMark = options.highWaterMark;
    return handler;
  },
  HttpResponseStream: {
    // a function URL's response: a JSON prelude (statusCode, headers, cookies), 8 NUL bytes, then the body
    from(stream, prelude) {
      stream.setContentType(HTTP_INTEGRATION_TYPE);
      stream.write(JSON.stringify(prelude || {}));
      stream.write(Buffer.alloc(8));
      return stream;
    },
  },
};

function responseStream(id) {
  let contentType = "application/octet-stream";
  let req = null;
  let done;
  const finished = new Promise((resolve, reject) => { done = { resolve, reject }; });
  const open = () => {
    if (req) return req;
    req = http.request({
      host: HOST, port: Number(PORT), path: `${BASE}/invocation/${id}/response`, method: "POST", agent,
      headers: {
        "Content-Type": contentType,
        "Lambda-Runtime-Function-Response-Mode": "streaming",
        "Transfer-Encoding": "chunked",
        "Trailer": "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      },
    }, (res) => { res.resume(); res.on("end", () => done.resolve(res.statusCode)); });
    req.on("error", (e) => done.reject(e));
    return req;
  };
  const stream = new Writable({
    write(chunk, encoding, callback) {
      open().write(chunk, encoding, callback);
    },
    final(callback) {
      open().end();
      callback();
    },
  });
  stream.setContentType = (type) => { if (!req) contentType = type; };
  stream.fail = (err) => {
    const body = errorBody(err);
    const r = open();
    if (r.writableEnded) return;  // the response was complete before the error: nothing to report it in
    r.addTrailers({
      "Lambda-Runtime-Function-Error-Type": body.errorType,
      "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(body)).toString("base64"),
    });
    r.end();
  };
  stream.finished = finished;
  return stream;
}

async function runStreamingHandler(handler, event, context, id) {
  const stream = responseStream(id);
  try {
    await handler(event, stream, context);
    if (!stream.writableEnded) stream.end();
    await new Promise((resolve) => (stream.writableFinished ? resolve() : stream.on("finish", resolve)));
  } catch (err) {
    console.error(`Invoke Error \t${JSON.stringify(errorBody(err))}`);
    stream.fail(err);
  }
  await stream.finished;
}

// --- invocations --------------------------------------------------------------------------------
function makeContext(headers, deadlineMs) {
  const env = process.env;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
  if (headers["lambda-runtime-client-context"]) {
    try { context.clientContext = JSON.parse(headers["lambda-runtime-client-context"]); } catch { /* left unset */ }
  }
  if (headers["lambda-runtime-cognito-identity"]) {
    try { context.identity = JSON.parse(headers["lambda-runtime-cognito-identity"]); } catch { /* left unset */ }
  }
  return context;
}

function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err === undefined || err === null ? "handled" : err);
    try {
      const out = handler(event, context, callback);
      if (out && typeof out.then === "function") {
        out.then((r) => callback(null, r), (e) => callback(e === undefined || e === null ? new Error("undefined") : e));
      } else if (handler.length < 3 && !settled) {
        callback(null, out);  // a synchronous handler without a callback: its return value
      }
    } catch (e) {
      callback(e === undefined || e === null ? new Error("undefined") : e);
    }
  });
}

// ES modules ignore NODE_PATH; AWS's runtime lets them import what NODE_PATH holds (layers under
// /opt/nodejs, the runtime's AWS SDK) all the same. A resolve hook retries a bare specifier that the
// default resolution did not find from each NODE_PATH directory, in order.
const RESOLVE_HOOK = `
import path from "node:path";
import { pathToFileURL } from "node:url";
const dirs = (process.env.NODE_PATH || "").split(":").filter(Boolean);
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    const bare = !specifier.startsWith(".") && !specifier.startsWith("/") && !specifier.includes(":");
    if (!bare || e?.code !== "ERR_MODULE_NOT_FOUND") throw e;
    for (const d of dirs) {
      const base = path.basename(d) === "node_modules" ? path.dirname(d) : path.join(d, "node_modules", "..");
      try {
        return await next(specifier, { ...context, parentURL: pathToFileURL(path.join(base, "nimbus-resolve.mjs")).href });
      } catch { /* the next directory */ }
    }
    throw e;
  }
}
`;

async function main() {
  patchConsole();
  if (typeof register === "function") {
    try { register("data:text/javascript," + encodeURIComponent(RESOLVE_HOOK)); } catch { /* older Node: NODE_PATH for require() only */ }
  }
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || "index.handler");
  } catch (e) {
    await postInitError(e);
    process.exit(1);
  }
  process.on("unhandledRejection", async (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    const body = { errorType: "Runtime.UnhandledPromiseRejection", errorMessage: `${err.name}: ${err.message}`, trace: String(err.stack || "").split("\n") };
    console.error(`Unhandled Promise Rejection\t${JSON.stringify(body)}`);
    if (currentRequestId) {
      await call("POST", `${BASE}/invocation/${currentRequestId}/error`, JSON.stringify(body), { "Lambda-Runtime-Function-Error-Type": body.errorType }).catch(() => {});
    }
    process.exit(128);
  });
  process.on("uncaughtException", async (err) => {
    const body = errorBody(err);
    console.error(`Uncaught Exception\t${JSON.stringify(body)}`);
    if (currentRequestId) {
      await call("POST", `${BASE}/invocation/${currentRequestId}/error`, JSON.stringify(body), { "Lambda-Runtime-Function-Error-Type": body.errorType }).catch(() => {});
    }
    process.exit(129);
  });
  for (;;) {
    const next = await call("GET", `${BASE}/invocation/next`);
    if (next.status !== 200) throw new Error(`runtime API /next answered ${next.status}`);
    const h = next.headers;
    const id = h["lambda-runtime-aws-request-id"];
    currentRequestId = id;
    if (h["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body.toString("utf8") || "null");
    } catch (e) {
      event = next.body.toString("utf8");
    }
    const context = makeContext(h, Number(h["lambda-runtime-deadline-ms"] || 0));
    if (handler[STREAMING] === "response") {
      await runStreamingHandler(handler, event, context, id);
      currentRequestId = "";
      continue;
    }
    try {
      const result = await runHandler(handler, event, context);
      const payload = JSON.stringify(result === undefined ? null : result);
      await call("POST", `${BASE}/invocation/${id}/response`, payload === undefined ? "null" : payload);
    } catch (err) {
      const body = errorBody(err);
      console.error(`Invoke Error \t${JSON.stringify(body)}`);
      await call("POST", `${BASE}/invocation/${id}/error`, JSON.stringify(body), { "Lambda-Runtime-Function-Error-Type": body.errorType });
    }
    currentRequestId = "";
  }
}

main().catch((e) => {
  process.stderr.write(`nimbus node runtime: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
