"use strict";
// S3: buckets (create, empty, delete), objects (browse by folder, versions, upload, download, create folder,
// delete), an object's properties, metadata, tags, preview, share, copy and versions, and a bucket's
// properties (versioning, tags, event notifications to Lambda, static website hosting), management
// (lifecycle rules) and permissions (bucket policy, CORS). Every action is the S3 (or Lambda) API call named
// beside it (docs/console/s3.md); object bytes move between the browser and S3 by presigned URLs, never
// through the console.
(function () {
  const N = window.Nimbus;
  const h = N.h;
  const regions = new Map(); // bucket -> its region (calls about a bucket go to its region, as AWS's console does)
  const MAX_PREVIEW = 1024 * 1024; // a text preview of the whole object below this size (GetObject through the console)
  const PREVIEW_HEAD = 64 * 1024; // above it, on request, the first 64 KB (a ranged GetObject)
  const MAX_API_UPLOAD = 8 * 1024 * 1024; // an upload through the API (keys a browser cannot address by URL)
  // Files above MULTIPART_FROM go up as multipart uploads: parts of PART_SIZE (more when 10,000 would not
  // hold the file), PARALLEL_PARTS at a time, each PUT to a presigned UploadPart URL (S3's 5 GB single-PUT
  // limit does not apply, and a failed part is retried alone)
  const MULTIPART_FROM = 16 * 1024 * 1024;
  const PART_SIZE = 8 * 1024 * 1024;
  const PARALLEL_PARTS = 4;
  const PART_TRIES = 3;

  // --- URLs -----------------------------------------------------------------------------------
  // The query is read from location.hash itself (the router's own query is the same since it splits the raw
  // hash first; this keeps the page independent of it).
  function rawQuery() {
    const hash = location.hash.replace(/^#/, "");
    const i = hash.indexOf("?");
    return Object.fromEntries(new URLSearchParams(i < 0 ? "" : hash.slice(i + 1)));
  }
  function qs(obj) {
    const parts = Object.keys(obj).filter((k) => obj[k] !== undefined && obj[k] !== null && obj[k] !== "").map((k) => k + "=" + N.q(obj[k]));
    return parts.length ? "?" + parts.join("&") : "";
  }
  const bucketHash = (bucket, prefix, tab, versions) => "#/s3/buckets/" + N.q(bucket) + qs({ prefix, tab, versions: versions ? "1" : null });
  const objectHash = (bucket, key, version) => "#/s3/buckets/" + N.q(bucket) + "/object" + qs({ key, version });
  // CopySource: "bucket/key" with the key URL-encoded ("/" kept), as the SDKs send it
  const copySource = (bucket, key) => bucket + "/" + encodeURIComponent(key).replace(/%2F/g, "/");
  // A browser resolves "." and ".." path segments (even percent-encoded) before it sends a URL, so a presigned
  // URL cannot address such a key from the browser: those keys go through the API (within its size limits).
  const hasDotSegment = (key) => key.split("/").some((s) => s === "." || s === "..");
  const baseName = (key) => { const parts = key.replace(/\/$/, "").split("/"); return parts[parts.length - 1] || key; };
  // Content-Disposition for a download: an ASCII fallback plus RFC 5987's UTF-8 name (S3 takes only ISO-8859-1)
  function disposition(name) {
    const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
    const utf8 = encodeURIComponent(name).replace(/['()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
    return 'attachment; filename="' + ascii + "\"; filename*=UTF-8''" + utf8;
  }

  // --- calls ----------------------------------------------------------------------------------
  async function regionOf(bucket) {
    if (!regions.has(bucket)) {
      const loc = await N.api("s3", "GetBucketLocation", { Bucket: bucket });
      let r = loc.LocationConstraint || "us-east-1";
      if (r === "EU") r = "eu-west-1";
      regions.set(bucket, r);
    }
    return regions.get(bucket);
  }
  async function s3(bucket, operation, params) {
    return N.api("s3", operation, params, { region: await regionOf(bucket) });
  }
  async function presign(bucket, operation, params, expires) {
    return N.presign(operation, params, { region: await regionOf(bucket), expires: expires || 300 });
  }
  // An optional setting: its S3 "not set" error means none
  async function optional(promise, codes) {
    try { return await promise; } catch (e) { if (codes.includes(e.code)) return null; throw e; }
  }
  async function listAllKeys(bucket, prefix) {
    const keys = [];
    let token = null;
    do {
      const p = { Bucket: bucket, Prefix: prefix, MaxKeys: 1000 };
      if (token) p.ContinuationToken = token;
      const page = await s3(bucket, "ListObjectsV2", p);
      (page.Contents || []).forEach((o) => keys.push(o.Key));
      token = page.IsTruncated ? page.NextContinuationToken : null;
    } while (token);
    return keys;
  }
  // The bucket's versioning status ("Enabled", "Suspended"), or null when it was never turned on
  async function versioningOf(bucket) {
    return (await s3(bucket, "GetBucketVersioning", { Bucket: bucket })).Status || null;
  }
  // Versions and delete markers of one key, newest first: botocore answers them in two lists (S3's XML
  // interleaves them), so by time (to the second), the current one first, else as S3 listed them
  function newestFirst(a, b) {
    const ta = Date.parse(a.LastModified), tb = Date.parse(b.LastModified);
    if (ta !== tb) return tb - ta;
    return (b.IsLatest ? 1 : 0) - (a.IsLatest ? 1 : 0);
  }
  // DeleteObjects in batches of 1000 (its limit), each item a key or {Key, VersionId}; answers the per-key errors
  async function deleteKeys(bucket, keys, progress) {
    const errors = [];
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => (typeof k === "string" ? { Key: k } : k));
      const r = await s3(bucket, "DeleteObjects", { Bucket: bucket, Delete: { Objects: batch, Quiet: true } });
      (r.Errors || []).forEach((e) => errors.push(e));
      if (progress) progress(Math.min(i + 1000, keys.length));
    }
    return errors;
  }
  // "Empty": list the first 1000 keys (every version and delete marker, in a bucket that has had versioning)
  // and delete them, until none is left; then abort the multipart uploads in progress (they too keep a bucket
  // from being deleted)
  async function emptyBucket(bucket, progress) {
    let total = 0;
    const versioned = !!(await versioningOf(bucket));
    for (;;) {
      let keys;
      if (versioned) {
        const page = await s3(bucket, "ListObjectVersions", { Bucket: bucket, MaxKeys: 1000 });
        keys = (page.Versions || []).concat(page.DeleteMarkers || []).map((v) => ({ Key: v.Key, VersionId: v.VersionId }));
      } else {
        const page = await s3(bucket, "ListObjectsV2", { Bucket: bucket, MaxKeys: 1000 });
        keys = (page.Contents || []).map((o) => o.Key);
      }
      if (!keys.length) {
        for (let i = 0; i < 1000; i++) {
          const ups = (await s3(bucket, "ListMultipartUploads", { Bucket: bucket })).Uploads || [];
          if (!ups.length) break;
          for (const u of ups) await s3(bucket, "AbortMultipartUpload", { Bucket: bucket, Key: u.Key, UploadId: u.UploadId });
        }
        return total;
      }
      const errors = await deleteKeys(bucket, keys);
      if (errors.length) {
        const err = new Error(errors.length + " objects could not be deleted; the first, " + JSON.stringify(errors[0].Key) + (errors[0].VersionId ? " (version " + errors[0].VersionId + ")" : "") + ": " + errors[0].Message);
        err.code = errors[0].Code;
        throw err;
      }
      total += keys.length;
      if (progress) progress(total);
    }
  }
  function bytesOf(body) {
    if (body && typeof body === "object" && body.$b64 !== undefined) return Uint8Array.from(atob(body.$b64), (c) => c.charCodeAt(0));
    return new TextEncoder().encode(body || "");
  }
  function fileBase64(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result).replace(/^[^,]*,/, ""));
      r.onerror = () => reject(r.error || new Error("The file could not be read."));
      r.readAsDataURL(file);
    });
  }
  // S3's XML error answer as an Error with its code
  function xmlError(status, text) {
    let code = String(status), message = "HTTP " + status;
    try {
      const doc = new DOMParser().parseFromString(text || "", "application/xml");
      const c = doc.querySelector("Error > Code"), m = doc.querySelector("Error > Message");
      if (c) code = c.textContent;
      if (m) message = m.textContent;
    } catch (e) { /* not XML */ }
    const err = new Error(message);
    err.code = code;
    return err;
  }
  // One object from the browser: PUT to a presigned PutObject URL whose signed Content-Type is the one sent
  async function putFile(bucket, key, file, onProgress) {
    const ctype = file.type || "application/octet-stream";
    if (hasDotSegment(key)) {
      if (file.size > MAX_API_UPLOAD) throw new Error("A key with \".\" or \"..\" segments is uploaded through the console's API, which takes up to 8 MB.");
      await s3(bucket, "PutObject", { Bucket: bucket, Key: key, ContentType: ctype, Body: { $b64: await fileBase64(file) } });
      onProgress(1);
      return;
    }
    if (file.size > MULTIPART_FROM) {
      await putMultipart(bucket, key, file, ctype, onProgress);
      return;
    }
    const url = await presign(bucket, "PutObject", { Bucket: bucket, Key: key, ContentType: ctype }, 3600);
    await new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("PUT", url);
      x.setRequestHeader("Content-Type", ctype);
      x.upload.onprogress = (ev) => { if (ev.lengthComputable && ev.total) onProgress(ev.loaded / ev.total); };
      x.onload = () => (x.status >= 200 && x.status < 300 ? resolve() : reject(xmlError(x.status, x.responseText)));
      x.onerror = () => reject(new Error("The upload failed (network error)."));
      x.send(file);
    });
    onProgress(1);
  }
  // One PUT of a body to a presigned URL; resolves with the answer's ETag
  function putTo(url, body, onLoaded) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open("PUT", url);
      x.upload.onprogress = (ev) => { if (ev.lengthComputable) onLoaded(ev.loaded); };
      x.onload = () => (x.status >= 200 && x.status < 300 ? resolve(x.getResponseHeader("ETag")) : reject(xmlError(x.status, x.responseText)));
      x.onerror = () => reject(new Error("The upload failed (network error)."));
      x.send(body);
    });
  }
  async function putMultipart(bucket, key, file, ctype, onProgress) {
    const partSize = Math.max(PART_SIZE, Math.ceil(file.size / 10000));
    const count = Math.ceil(file.size / partSize);
    const up = await s3(bucket, "CreateMultipartUpload", { Bucket: bucket, Key: key, ContentType: ctype });
    const loaded = new Array(count).fill(0);
    const report = () => onProgress(Math.min(0.99, loaded.reduce((a, b) => a + b, 0) / file.size));
    const parts = new Array(count);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const blob = file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize));
        for (let attempt = 1; ; attempt++) {
          try {
            const url = await presign(bucket, "UploadPart", { Bucket: bucket, Key: key, UploadId: up.UploadId, PartNumber: i + 1 }, 3600);
            const etag = await putTo(url, blob, (n) => { loaded[i] = n; report(); });
            parts[i] = { ETag: etag, PartNumber: i + 1 };
            loaded[i] = blob.size;
            report();
            break;
          } catch (e) {
            loaded[i] = 0;
            if (attempt >= PART_TRIES) throw e;
          }
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, count) }, worker));
      await s3(bucket, "CompleteMultipartUpload", { Bucket: bucket, Key: key, UploadId: up.UploadId, MultipartUpload: { Parts: parts } });
    } catch (e) {
      next = count; // the other workers stop taking parts
      await s3(bucket, "AbortMultipartUpload", { Bucket: bucket, Key: key, UploadId: up.UploadId }).catch(() => null);
      throw e;
    }
    onProgress(1);
  }
  function saveBlob(bytes, name, type) {
    const url = URL.createObjectURL(new Blob([bytes], { type: type || "application/octet-stream" }));
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
  async function download(bucket, key, version) {
    const name = baseName(key);
    const which = version ? { VersionId: version } : {};
    if (hasDotSegment(key)) {
      const got = await s3(bucket, "GetObject", Object.assign({ Bucket: bucket, Key: key }, which));
      saveBlob(bytesOf(got.Body), name, got.ContentType);
      return;
    }
    const url = await presign(bucket, "GetObject", Object.assign({ Bucket: bucket, Key: key, ResponseContentDisposition: disposition(name) }, which));
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  // --- pieces ---------------------------------------------------------------------------------
  // N.confirm's promise never settles when the dialog is cancelled, which leaves the N.button that awaited
  // it disabled: this one answers false on Cancel
  function confirm(text) {
    return new Promise((resolve) => {
      N.modal("Are you sure?", h("p", {}, text), [{ text: "Confirm", kind: "danger", id: "confirm-ok", onclick: async () => resolve(true) }]);
      const backs = document.querySelectorAll(".modal-back");
      const cancel = backs.length ? backs[backs.length - 1].querySelector("#modal-cancel") : null;
      if (cancel) cancel.addEventListener("click", () => resolve(false));
    });
  }
  // Enter in a dialog's text box presses its submit button
  function submitOnEnter(input, buttonId) {
    input.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      const b = document.getElementById(buttonId);
      if (b && !b.disabled) b.click();
    });
    return input;
  }
  // Rows of key and value inputs (tags, user metadata): {el, read, add}; read() answers [{Key, Value}]
  function pairsEditor(pairs, what) {
    const rows = h("tbody");
    const add = (k, v) => {
      const tr = h("tr", { class: "s3-tag-row" },
        h("td", {}, N.input({ class: "s3-tag-key", value: k || "", placeholder: "Key", maxlength: 128 })),
        h("td", {}, N.input({ class: "s3-tag-value", value: v || "", placeholder: "Value (optional)", maxlength: 256 })),
        h("td", {}, h("button", { type: "button", class: "link s3-tag-remove", onclick: () => tr.remove() }, "Remove")));
      rows.appendChild(tr);
    };
    (pairs || []).forEach((t) => add(t.Key, t.Value));
    const read = () => {
      const out = [], seen = new Set();
      for (const tr of rows.querySelectorAll("tr")) {
        const k = tr.querySelector(".s3-tag-key").value.trim(), v = tr.querySelector(".s3-tag-value").value;
        if (!k && !v) continue;
        if (!k) throw new Error("A " + what + " needs a key.");
        if (seen.has(k.toLowerCase())) throw new Error(what[0].toUpperCase() + what.slice(1) + " keys must be unique: " + k + " is given twice.");
        seen.add(k.toLowerCase());
        out.push({ Key: k, Value: v });
      }
      return out;
    };
    const el = h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Key"), h("th", {}, "Value"), h("th", {}))), rows);
    return { el, read, add };
  }
  function tagEditor(idp, tags, onSave) {
    const ed = pairsEditor(tags, "tag");
    return h("div", { id: idp }, ed.el,
      h("div", { class: "actions", style: { marginTop: "8px" } },
        N.button("Add tag", async () => ed.add(), { id: idp + "-add" }),
        N.button("Save changes", async () => { await onSave(ed.read()); N.toast("Tags saved."); }, { id: idp + "-save", kind: "primary" })));
  }
  function prefixCrumbs(bucket, prefix) {
    const crumbs = [["Amazon S3", "#/s3"], [bucket, bucketHash(bucket)]];
    const parts = prefix.split("/");
    parts.pop(); // the prefix ends with "/" (or is empty)
    parts.forEach((p, i) => crumbs.push([p + "/", bucketHash(bucket, parts.slice(0, i + 1).join("/") + "/")]));
    return crumbs;
  }
  const jsonError = (what, e) => { const err = new Error(what + " is not valid JSON: " + e.message); err.code = "InvalidJSON"; return err; };

  // --- buckets --------------------------------------------------------------------------------
  async function bucketsPage(view) {
    const notice = h("div", { id: "s3-notice" });
    const buckets = await N.paginate("s3", "ListBuckets", {}, "ContinuationToken", "ContinuationToken", "Buckets", { max: 100000 });
    const regionCells = new Map();
    const filter = N.input({ id: "s3-bucket-filter", placeholder: "Find buckets by name", style: { maxWidth: "320px" } });
    const holder = h("div");
    const draw = () => {
      const f = filter.value.trim().toLowerCase();
      const rows = buckets.filter((b) => !f || b.Name.toLowerCase().includes(f));
      N.clear(holder).appendChild(N.table([
        { title: "Name", get: (b) => N.link(bucketHash(b.Name), b.Name, { class: "s3-bucket-link" }) },
        { title: "Region", get: (b) => { const c = h("span", { class: "s3-region" }, regions.get(b.Name) || "…"); regionCells.set(b.Name, c); return c; } },
        { title: "Created", get: (b) => N.fmt.time(b.CreationDate) },
        { title: "", get: (b) => h("span", { class: "actions" },
          N.button("Empty", () => emptyFlow(b.Name), { id: "s3-bucket-empty-" + b.Name, kind: "link" }),
          N.button("Delete", () => deleteFlow(b.Name), { id: "s3-bucket-delete-" + b.Name, kind: "link" })) },
      ], rows, { id: "s3-buckets", empty: buckets.length ? "No bucket matches." : "No buckets in this account yet." }));
    };
    filter.addEventListener("input", draw);
    draw();
    // each bucket's region: ListBuckets' BucketRegion where the answer has it, else GetBucketLocation
    (async () => {
      for (const b of buckets) {
        if (b.BucketRegion) regions.set(b.Name, b.BucketRegion);
        let text;
        try { text = await regionOf(b.Name); } catch (e) { text = "?"; }
        const c = regionCells.get(b.Name);
        if (c) c.textContent = text;
      }
    })();

    async function emptyFlow(bucket) {
      if (!(await confirm('Empty bucket "' + bucket + '"? Every object in it (and every version of one) is deleted permanently.'))) return;
      N.clear(notice);
      const status = h("div", { class: "ok", id: "s3-empty-status" }, "Emptying " + bucket + "…");
      notice.appendChild(status);
      try {
        const n = await emptyBucket(bucket, (done) => { status.textContent = "Emptying " + bucket + ": " + done + " objects deleted…"; });
        status.textContent = "Emptied " + bucket + ": " + n + " objects deleted. ";
        status.appendChild(N.button("Delete bucket", () => deleteFlow(bucket), { id: "s3-delete-after-empty", kind: "danger" }));
      } catch (e) {
        N.clear(notice).appendChild(N.errorBox(e));
      }
    }
    async function deleteFlow(bucket) {
      if (!(await confirm('Delete bucket "' + bucket + '"? This cannot be undone.'))) return;
      N.clear(notice);
      try {
        await s3(bucket, "DeleteBucket", { Bucket: bucket });
      } catch (e) {
        const box = N.errorBox(e);
        box.id = "s3-delete-error";
        if (e.code === "BucketNotEmpty") {
          box.appendChild(h("p", {}, "A bucket must be empty before it is deleted. Empty it (every object is deleted), then delete it."));
          box.appendChild(N.button("Empty bucket", () => emptyFlow(bucket), { id: "s3-empty-bucket", kind: "danger" }));
        }
        notice.appendChild(box);
        return;
      }
      regions.delete(bucket);
      N.toast("Deleted bucket " + bucket + ".");
      N.render();
    }

    view.appendChild(N.page("Buckets", {
      id: "s3-title", breadcrumbs: [["Amazon S3", null]],
      actions: [N.button("Refresh", async () => N.render(), { id: "s3-refresh" }),
        N.button("Create bucket", async () => createBucketModal(), { id: "s3-create-bucket", kind: "primary" })],
    }, notice, N.panel("General purpose buckets (" + buckets.length + ")", filter, holder)));
  }

  function createBucketModal() {
    const name = submitOnEnter(N.input({ id: "s3-bucket-name", placeholder: "my-bucket", autocomplete: "off" }), "s3-bucket-submit");
    const regionSel = N.select(N.REGIONS.includes(N.state.region) ? N.REGIONS : [N.state.region].concat(N.REGIONS), N.state.region, { id: "s3-bucket-region" });
    const lock = h("input", { type: "checkbox", id: "s3-bucket-object-lock" });
    N.modal("Create bucket", h("div", {},
      N.field("Bucket name", name, "3 to 63 characters: lowercase letters, numbers, dots and hyphens; starting and ending with a letter or number. Unique across the server."),
      N.field("AWS Region", regionSel),
      h("label", { class: "field" }, lock, " Enable Object Lock (turns on versioning; objects can then be locked against deletion, permanently for the bucket)")), [{
      text: "Create bucket", kind: "primary", id: "s3-bucket-submit",
      onclick: async () => {
        const bucket = name.value.trim(), region = regionSel.value;
        const params = { Bucket: bucket };
        if (region !== "us-east-1") params.CreateBucketConfiguration = { LocationConstraint: region };
        if (lock.checked) params.ObjectLockEnabledForBucket = true;
        await N.api("s3", "CreateBucket", params, { region });
        regions.set(bucket, region);
        N.toast("Created bucket " + bucket + ".");
        N.render();
      },
    }]);
    setTimeout(() => name.focus(), 0);
  }

  // --- a bucket -------------------------------------------------------------------------------
  async function bucketPage(view, params) {
    const bucket = params.bucket;
    const q = rawQuery();
    const tab = ["properties", "permissions", "management"].includes(q.tab) ? q.tab : "objects";
    const prefix = tab === "objects" ? (q.prefix || "") : "";
    await regionOf(bucket); // NoSuchBucket shows here
    const tabs = N.tabs([["Objects", bucketHash(bucket)], ["Properties", bucketHash(bucket, null, "properties")],
      ["Permissions", bucketHash(bucket, null, "permissions")], ["Management", bucketHash(bucket, null, "management")]], tab[0].toUpperCase() + tab.slice(1));
    let content;
    if (tab === "objects") content = await objectsTab(bucket, prefix, q);
    else if (tab === "properties") content = await propertiesTab(bucket);
    else if (tab === "permissions") content = await permissionsTab(bucket);
    else content = await managementTab(bucket);
    const crumbs = prefixCrumbs(bucket, prefix);
    crumbs[crumbs.length - 1] = [crumbs[crumbs.length - 1][0], null];
    view.appendChild(N.page(bucket, { id: "s3-bucket-title", breadcrumbs: crumbs }, h("div", { class: "muted" }, "Region: " + regions.get(bucket)), tabs, content));
  }

  async function objectsTab(bucket, prefix, q) {
    const pageSize = Math.max(1, Math.min(1000, parseInt(q.max || "1000", 10) || 1000));
    const versioning = await optional(versioningOf(bucket), ["NotImplemented"]);
    const showVersions = !!versioning && q.versions === "1";
    // a row: a folder, an object, or (with "Show versions") one version or delete marker of an object
    const st = { rows: [], token: null, selected: new Map() }; // selected: row id -> row
    async function load() {
      let page;
      if (showVersions) {
        const p = { Bucket: bucket, Prefix: prefix, Delimiter: "/", MaxKeys: pageSize };
        if (st.token) { p.KeyMarker = st.token.key; if (st.token.version) p.VersionIdMarker = st.token.version; }
        page = await s3(bucket, "ListObjectVersions", p);
        const entries = (page.Versions || []).map((v) => ({ v, marker: false })).concat((page.DeleteMarkers || []).map((v) => ({ v, marker: true })));
        // S3 answers versions and delete markers apart: one list, by key then newest first
        entries.sort((a, b) => (a.v.Key < b.v.Key ? -1 : a.v.Key > b.v.Key ? 1 : newestFirst(a.v, b.v)));
        (page.CommonPrefixes || []).forEach((c) => st.rows.push({ type: "folder", id: "f:" + c.Prefix, key: c.Prefix, name: c.Prefix.slice(prefix.length) }));
        entries.forEach((e) => { if (!(prefix && e.v.Key === prefix)) st.rows.push({ type: e.marker ? "marker" : "version", id: "v:" + e.v.Key + "\u0000" + e.v.VersionId, key: e.v.Key, version: e.v.VersionId, name: e.v.Key.slice(prefix.length), obj: e.marker ? null : e.v, entry: e.v }); });
        st.token = page.IsTruncated ? { key: page.NextKeyMarker, version: page.NextVersionIdMarker } : null;
      } else {
        const p = { Bucket: bucket, Prefix: prefix, Delimiter: "/", MaxKeys: pageSize };
        if (st.token) p.ContinuationToken = st.token;
        page = await s3(bucket, "ListObjectsV2", p);
        (page.CommonPrefixes || []).forEach((c) => st.rows.push({ type: "folder", id: "f:" + c.Prefix, key: c.Prefix, name: c.Prefix.slice(prefix.length) }));
        (page.Contents || []).forEach((o) => { if (!(prefix && o.Key === prefix)) st.rows.push({ type: "object", id: "o:" + o.Key, key: o.Key, name: o.Key.slice(prefix.length), obj: o }); });
        st.token = page.IsTruncated ? page.NextContinuationToken : null;
      }
    }
    await load();
    const notice = h("div", { id: "s3-objects-notice" });
    const filter = N.input({ id: "s3-filter", placeholder: "Filter this page's objects by name", style: { maxWidth: "360px" } });
    const holder = h("div", { style: { marginTop: "8px" } });
    const count = h("span", { id: "s3-objects-count" });
    const more = N.button("Load more", async () => { await load(); draw(); }, { id: "s3-load-more" });
    const selectAll = h("input", { type: "checkbox", id: "s3-select-all", title: "Select all shown" });
    let visible = [];
    selectAll.addEventListener("change", () => {
      visible.forEach((r) => { if (selectAll.checked) st.selected.set(r.id, r); else st.selected.delete(r.id); });
      draw();
    });
    const nameCell = (r) => {
      if (r.type === "folder") return N.link(bucketHash(bucket, r.key, null, showVersions), r.name, { class: "s3-folder", dataset: { key: r.key } });
      if (r.type === "object") return N.link(objectHash(bucket, r.key), r.name, { class: "s3-object", dataset: { key: r.key } });
      if (r.type === "marker") return h("span", { class: "s3-marker", dataset: { key: r.key, version: r.version } }, r.name);
      return N.link(objectHash(bucket, r.key, r.version), r.name, { class: "s3-object s3-version", dataset: { key: r.key, version: r.version } });
    };
    function draw() {
      const f = filter.value.trim().toLowerCase();
      visible = st.rows.filter((r) => !f || r.name.toLowerCase().includes(f));
      selectAll.checked = visible.length > 0 && visible.every((r) => st.selected.has(r.id));
      count.textContent = f ? visible.length + " of " + st.rows.length + " shown" : st.rows.length + (st.token ? "+" : "") + " items";
      const columns = [
        { title: selectAll, get: (r) => h("input", { type: "checkbox", class: "s3-select", dataset: { key: r.key, kind: r.type, version: r.version || null }, checked: st.selected.has(r.id),
          onchange: (ev) => { if (ev.target.checked) st.selected.set(r.id, r); else st.selected.delete(r.id); selectAll.checked = visible.every((x) => st.selected.has(x.id)); } }) },
        { title: "Name", get: nameCell },
        { title: "Type", get: (r) => r.type === "folder" ? "Folder" : r.type === "marker" ? "Delete marker" : ((/\.([A-Za-z0-9]{1,10})$/.exec(r.name) || [])[1] || "-") },
      ];
      if (showVersions) {
        columns.push({ title: "Version ID", get: (r) => r.version ? h("span", {}, h("code", {}, r.version), r.entry && r.entry.IsLatest ? [" ", h("span", { class: "badge ok" }, "current")] : null) : "-" });
      }
      columns.push(
        { title: "Last modified", get: (r) => r.entry || r.obj ? N.fmt.time((r.entry || r.obj).LastModified) : "-" },
        { title: "Size", get: (r) => r.obj ? N.fmt.bytes(r.obj.Size) : "-" },
        { title: "Storage class", get: (r) => r.obj ? (r.obj.StorageClass || "STANDARD") : "-" },
        { title: "", get: (r) => r.obj ? N.button("Download", () => download(bucket, r.key, r.version), { kind: "link s3-download" }) : null });
      N.clear(holder).appendChild(N.table(columns, visible, { id: "s3-objects", empty: st.rows.length ? "No object on this page matches the filter." : "No objects" + (prefix ? " in this folder." : " in this bucket.") }));
      more.hidden = !st.token;
    }
    filter.addEventListener("input", draw);
    draw();

    async function deleteSelected() {
      const picked = Array.from(st.selected.values());
      if (!picked.length) throw new Error("Select the objects or folders to delete first.");
      const objects = picked.filter((r) => r.type === "object").map((r) => r.key);
      const versions = picked.filter((r) => r.type === "version" || r.type === "marker").map((r) => ({ Key: r.key, VersionId: r.version }));
      const folders = picked.filter((r) => r.type === "folder").map((r) => r.key);
      const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
      const what = [objects.length ? plural(objects.length, "object") : null,
        versions.length ? plural(versions.length, "version") + " (permanently)" : null,
        folders.length ? plural(folders.length, "folder") + " and everything in " + (folders.length > 1 ? "them" : "it") + (showVersions ? " (every version)" : "") : null].filter((x) => x).join(" and ");
      const note = versioning && objects.length ? " In a versioned bucket, deleting an object adds a delete marker; its versions stay (Show versions)." : " This cannot be undone.";
      if (!(await confirm("Delete " + what + "?" + note))) return;
      let items = objects.concat(versions);
      for (const f of folders) {
        if (showVersions) {
          let token = null;
          do {
            const p = { Bucket: bucket, Prefix: f, MaxKeys: 1000 };
            if (token) { p.KeyMarker = token.key; if (token.version) p.VersionIdMarker = token.version; }
            const page = await s3(bucket, "ListObjectVersions", p);
            (page.Versions || []).concat(page.DeleteMarkers || []).forEach((v) => items.push({ Key: v.Key, VersionId: v.VersionId }));
            token = page.IsTruncated ? { key: page.NextKeyMarker, version: page.NextVersionIdMarker } : null;
          } while (token);
        } else {
          items = items.concat(await listAllKeys(bucket, f));
        }
      }
      const seen = new Set();
      items = items.filter((it) => { const id = typeof it === "string" ? it : it.Key + "\u0000" + it.VersionId; if (seen.has(id)) return false; seen.add(id); return true; });
      const errors = await deleteKeys(bucket, items);
      if (errors.length) {
        N.clear(notice).appendChild(h("div", { class: "error", id: "s3-delete-errors" }, errors.length + " of " + items.length + " could not be deleted:",
          h("ul", {}, errors.slice(0, 20).map((e) => h("li", {}, e.Key + (e.VersionId ? " (" + e.VersionId + ")" : "") + ": " + e.Code + " " + (e.Message || ""))))));
        return;
      }
      N.toast("Deleted " + plural(items.length, showVersions ? "object version" : "object") + ".");
      N.render();
    }

    const versionsToggle = versioning ? h("label", { class: "muted", style: { marginLeft: "16px" } },
      h("input", { type: "checkbox", id: "s3-show-versions", checked: showVersions,
        onchange: (ev) => N.go(bucketHash(bucket, prefix, null, ev.target.checked) + (q.max ? "&max=" + N.q(q.max) : "")) }), " Show versions") : null;
    return h("div", {}, notice, N.panel(null,
      h("div", { class: "pagehead" }, h("h2", { style: { margin: 0 } }, "Objects ", h("span", { class: "muted" }, "(", count, ")")),
        h("div", { class: "actions" },
          N.button("Refresh", async () => N.render(), { id: "s3-objects-refresh" }),
          N.button("Delete", deleteSelected, { id: "s3-delete-selected", kind: "danger" }),
          N.button("Create folder", async () => createFolderModal(bucket, prefix), { id: "s3-create-folder" }),
          N.button("Upload", async () => uploadModal(bucket, prefix), { id: "s3-upload", kind: "primary" }))),
      h("p", { class: "muted" }, "s3://" + bucket + "/" + prefix),
      h("div", {}, filter, versionsToggle), holder, h("div", { style: { marginTop: "8px" } }, more)));
  }

  function createFolderModal(bucket, prefix) {
    const name = submitOnEnter(N.input({ id: "s3-folder-name", autocomplete: "off" }), "s3-folder-submit");
    N.modal("Create folder", h("div", {},
      N.field("Folder name", name, "Creates the object \"" + prefix + "NAME/\" (empty), which S3 consoles show as a folder. A name cannot contain \"/\".")), [{
      text: "Create folder", kind: "primary", id: "s3-folder-submit",
      onclick: async () => {
        const n = name.value;
        if (!n) throw new Error("Enter a folder name.");
        if (n.includes("/")) throw new Error("A folder name cannot contain \"/\".");
        await s3(bucket, "PutObject", { Bucket: bucket, Key: prefix + n + "/", Body: "" });
        N.toast("Created folder " + n + "/.");
        N.render();
      },
    }]);
    setTimeout(() => name.focus(), 0);
  }

  function uploadModal(bucket, prefix) {
    const input = h("input", { type: "file", multiple: true, id: "s3-upload-input" });
    const dirInput = h("input", { type: "file", multiple: true, webkitdirectory: true, id: "s3-upload-folder-input" });
    const list = h("div", { id: "s3-upload-list" });
    let items = [];
    const refresh = () => {
      items = Array.from(input.files).map((f) => ({ file: f, key: prefix + f.name }))
        .concat(Array.from(dirInput.files).map((f) => ({ file: f, key: prefix + (f.webkitRelativePath || f.name) })));
      items.forEach((it) => { it.status = h("span", { class: "s3-upload-status" }, "Waiting"); });
      N.clear(list).appendChild(items.length ? N.table([
        { title: "Key", get: (it) => it.key }, { title: "Size", get: (it) => N.fmt.bytes(it.file.size) },
        { title: "Type", get: (it) => it.file.type || "application/octet-stream" }, { title: "Status", get: (it) => it.status },
      ], items) : h("p", { class: "muted" }, "No files chosen."));
    };
    input.addEventListener("change", refresh);
    dirInput.addEventListener("change", refresh);
    refresh();
    N.modal("Upload to s3://" + bucket + "/" + prefix, h("div", {},
      N.field("Files", input), N.field("Or a folder (its files keep their paths)", dirInput), list), [{
      text: "Upload", kind: "primary", id: "s3-upload-submit",
      onclick: async () => {
        if (!items.length) throw new Error("Choose the files to upload.");
        const failed = [];
        let next = 0;
        const worker = async () => {
          while (next < items.length) {
            const it = items[next++];
            if (it.done) continue;
            it.status.textContent = "Uploading…";
            try {
              await putFile(bucket, it.key, it.file, (f) => { it.status.textContent = Math.round(f * 100) + "%"; });
              it.done = true;
              it.status.textContent = "Succeeded";
            } catch (e) {
              failed.push(it);
              it.status.textContent = "Failed: " + N.describe(e);
            }
          }
        };
        await Promise.all([worker(), worker(), worker()]);
        const ok = items.filter((it) => it.done).length;
        if (failed.length) {
          const err = new Error(failed.length + " of " + items.length + " files failed to upload (see each file's status); Upload retries them.");
          err.code = "UploadFailed";
          throw err;
        }
        N.toast("Uploaded " + ok + " file" + (ok === 1 ? "" : "s") + ".");
        N.render();
      },
    }]);
  }

  // --- an object ------------------------------------------------------------------------------
  async function objectPage(view, params) {
    const bucket = params.bucket;
    const q = rawQuery();
    const key = q.key, version = q.version || null;
    if (!key) throw new Error("No object key in the address (…/object?key=KEY).");
    await regionOf(bucket);
    const which = version ? { VersionId: version } : {}; // a version named in the address, else the current one
    let head;
    try {
      head = await s3(bucket, "HeadObject", Object.assign({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }, which));
    } catch (e) {
      if (e.status === 404 || e.status === 405) {
        const err = new Error("No object " + JSON.stringify(key) + (version ? " version " + version : "") + " in bucket " + bucket + " (it may have been deleted).");
        err.code = e.status === 405 ? "DeleteMarker" : "NoSuchKey";
        throw err;
      }
      throw e;
    }
    const [tagging, versioning] = await Promise.all([
      s3(bucket, "GetObjectTagging", Object.assign({ Bucket: bucket, Key: key }, which)),
      optional(versioningOf(bucket), ["NotImplemented"]),
    ]);
    const name = baseName(key);
    const folder = key.slice(0, key.length - name.length - (key.endsWith("/") ? 1 : 0));
    const dot = hasDotSegment(key);
    const links = async () => ({
      download: await presign(bucket, "GetObject", Object.assign({ Bucket: bucket, Key: key, ResponseContentDisposition: disposition(name) }, which), 3600),
      open: await presign(bucket, "GetObject", Object.assign({ Bucket: bucket, Key: key }, which), 3600),
    });
    const urls = await links();
    const dl = h("a", { class: "button", id: "obj-download", href: urls.download, download: name,
      onclick: (ev) => { if (dot) { ev.preventDefault(); download(bucket, key, version).catch((e) => N.toast(N.describe(e), "bad")); } } }, "Download");
    const open = h("a", { class: "button", id: "obj-open", href: urls.open, target: "_blank", rel: "noopener",
      onclick: (ev) => { if (dot) { ev.preventDefault(); N.toast("A browser cannot open a key with \".\" or \"..\" segments by URL; use Download.", "bad"); } } }, "Open");
    N.every(30 * 60 * 1000, async () => { try { const u = await links(); dl.href = u.download; open.href = u.open; } catch (e) { /* next time */ } });

    const checksum = ["ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"].filter((k) => head[k])
      .map((k) => k.slice("Checksum".length) + ": " + head[k] + (head.ChecksumType ? " (" + head.ChecksumType + ")" : ""));
    const meta = head.Metadata || {};
    const system = [["Content-Type", head.ContentType], ["Cache-Control", head.CacheControl], ["Content-Disposition", head.ContentDisposition],
      ["Content-Encoding", head.ContentEncoding], ["Content-Language", head.ContentLanguage], ["Expires", head.ExpiresString || head.Expires],
      ["x-amz-website-redirect-location", head.WebsiteRedirectLocation]].filter((p) => p[1]);
    const metaRows = system.map((p) => ({ type: "System defined", key: p[0], value: String(p[1]) }))
      .concat(Object.keys(meta).sort().map((k) => ({ type: "User defined", key: "x-amz-meta-" + k, value: meta[k] })));

    const preview = h("div", { id: "obj-preview" });
    const showPreview = async (range) => {
      N.clear(preview).appendChild(h("p", { class: "muted" }, "Loading…"));
      const p = Object.assign({ Bucket: bucket, Key: key }, which);
      if (range) p.Range = "bytes=0-" + (PREVIEW_HEAD - 1);
      const got = await s3(bucket, "GetObject", p);
      N.clear(preview);
      let text = typeof got.Body === "string" ? got.Body : null;
      if (text === null && range) { // the cut may fall inside a character: drop an incomplete tail
        const bytes = bytesOf(got.Body);
        for (let cut = 1; cut <= 3 && text === null; cut++) {
          try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.slice(0, bytes.length - cut)); } catch (e) { text = null; }
        }
      }
      if (text === null || /[\x00-\x08\x0e-\x1f]/.test(text.slice(0, 4096))) {
        preview.appendChild(h("p", { class: "muted" }, "No preview: the object is not text."));
        return;
      }
      if (range) preview.appendChild(h("p", { class: "muted" }, "The first " + N.fmt.bytes(PREVIEW_HEAD) + " of " + N.fmt.bytes(head.ContentLength) + ":"));
      preview.appendChild(h("pre", { class: "code", id: "obj-preview-text" }, text));
    };
    if (head.ContentLength === 0) preview.appendChild(h("p", { class: "muted" }, "The object is empty."));
    else if (/^image\//.test(head.ContentType || "") && !dot) preview.appendChild(h("img", { src: urls.open, alt: name, style: { maxWidth: "100%", maxHeight: "480px" } }));
    else if (head.ContentLength <= MAX_PREVIEW) { try { await showPreview(false); } catch (e) { N.clear(preview).appendChild(N.errorBox(e)); } }
    else preview.appendChild(h("div", {}, h("p", { class: "muted" }, "The object is " + N.fmt.bytes(head.ContentLength) + "."),
      N.button("Preview the first " + N.fmt.bytes(PREVIEW_HEAD), async () => showPreview(true), { id: "obj-preview-head" })));

    const crumbs = prefixCrumbs(bucket, folder);
    crumbs.push(version ? [name, objectHash(bucket, key)] : [name, null]);
    if (version) crumbs.push(["version " + version, null]);
    const deleteText = version ? "Permanently delete version " + version + " of " + JSON.stringify(key) + "? This cannot be undone."
      : versioning ? "Delete " + JSON.stringify(key) + "? The bucket is versioned: S3 adds a delete marker, and the object's versions stay."
        : "Delete " + JSON.stringify(key) + " from " + bucket + "? This cannot be undone.";
    view.appendChild(N.page(name, {
      id: "obj-title", breadcrumbs: crumbs,
      actions: [open, dl,
        N.button("Share", async () => shareModal(bucket, key, version), { id: "obj-share", title: "A presigned URL anyone can use to download the object, for a while" }),
        N.button("Copy", async () => copyModal(bucket, key, version), { id: "obj-copy" }),
        N.button("Delete", async () => {
          if (!(await confirm(deleteText))) return;
          await s3(bucket, "DeleteObject", Object.assign({ Bucket: bucket, Key: key }, which));
          N.toast("Deleted " + name + (version ? " (version " + version + ")" : "") + ".");
          N.go(version ? objectHash(bucket, key) : bucketHash(bucket, folder));
        }, { id: "obj-delete", kind: "danger" })],
    },
    N.panel("Object overview", h("div", { id: "obj-properties" }, N.kv([
      ["Key", h("code", { id: "obj-key" }, key)],
      head.VersionId || version ? ["Version ID", h("code", { id: "obj-version" }, head.VersionId || version)] : null,
      ["S3 URI", "s3://" + bucket + "/" + key],
      ["Object URL", ((N.state.session && N.state.session.endpoint) || location.origin) + "/" + bucket + "/" + encodeURIComponent(key).replace(/%2F/g, "/")],
      ["ARN", "arn:aws:s3:::" + bucket + "/" + key],
      ["Size", N.fmt.bytes(head.ContentLength) + (head.ContentLength >= 1024 ? " (" + head.ContentLength + " bytes)" : "")],
      ["Last modified", N.fmt.time(head.LastModified)],
      ["ETag", head.ETag],
      ["Content type", head.ContentType],
      ["Storage class", head.StorageClass || "STANDARD"],
      ["Server-side encryption", head.ServerSideEncryption],
      ["Checksum", checksum.length ? checksum.join(", ") : null],
      head.PartsCount ? ["Parts", String(head.PartsCount)] : null,
      head.ObjectLockMode ? ["Object Lock retention", h("span", { id: "obj-lock-retention" }, head.ObjectLockMode + " until " + N.fmt.time(head.ObjectLockRetainUntilDate))] : null,
      head.ObjectLockLegalHoldStatus ? ["Object Lock legal hold", h("span", { id: "obj-lock-hold" }, head.ObjectLockLegalHoldStatus)] : null,
      head.ReplicationStatus ? ["Replication status", h("span", { id: "obj-replication" }, head.ReplicationStatus)] : null,
      head.Restore ? ["Restore", head.Restore] : null,
    ]))),
    N.panel("Metadata", version ? null : h("div", { class: "actions", style: { marginBottom: "8px" } },
      N.button("Edit metadata", async () => metadataModal(bucket, key, head), { id: "obj-meta-edit" })), N.table([{ title: "Type", get: (r) => r.type }, { title: "Key", get: (r) => r.key }, { title: "Value", get: (r) => r.value }],
      metaRows, { id: "obj-metadata", empty: "No metadata." })),
    N.panel("Tags (" + (tagging.TagSet || []).length + ")", tagEditor("obj-tags", tagging.TagSet || [], async (tags) => {
      await s3(bucket, "PutObjectTagging", Object.assign({ Bucket: bucket, Key: key, Tagging: { TagSet: tags } }, which));
    })),
    N.panel("Preview", preview),
    versioning ? N.panel("Versions", await versionsOf(bucket, key, head.VersionId || version)) : null));
  }

  // The versions and delete markers of one key, newest first (ListObjectVersions with the key as prefix)
  async function versionsOf(bucket, key, shown) {
    const rows = [];
    let token = null;
    for (let i = 0; i < 20; i++) {
      const p = { Bucket: bucket, Prefix: key, MaxKeys: 1000 };
      if (token) { p.KeyMarker = token.key; if (token.version) p.VersionIdMarker = token.version; }
      const page = await s3(bucket, "ListObjectVersions", p);
      const all = (page.Versions || []).map((v) => Object.assign({ marker: false }, v)).concat((page.DeleteMarkers || []).map((v) => Object.assign({ marker: true }, v)));
      all.filter((v) => v.Key === key).forEach((v) => rows.push(v));
      const past = all.some((v) => v.Key > key);
      token = page.IsTruncated && !past ? { key: page.NextKeyMarker, version: page.NextVersionIdMarker } : null;
      if (!token) break;
    }
    rows.sort(newestFirst);
    return N.table([
      { title: "Version ID", get: (v) => v.marker ? h("code", {}, v.VersionId) : N.link(objectHash(bucket, key, v.VersionId), v.VersionId, { class: "obj-version-link", dataset: { version: v.VersionId } }) },
      { title: "", get: (v) => [v.IsLatest ? h("span", { class: "badge ok" }, "current") : null, " ", v.VersionId === shown ? h("span", { class: "badge" }, "shown") : null] },
      { title: "Type", get: (v) => (v.marker ? "Delete marker" : "Object") },
      { title: "Last modified", get: (v) => N.fmt.time(v.LastModified) },
      { title: "Size", get: (v) => (v.marker ? "-" : N.fmt.bytes(v.Size)) },
      { title: "", get: (v) => v.marker ? null : N.button("Download", () => download(bucket, key, v.VersionId), { kind: "link s3-download" }) },
    ], rows, { id: "obj-versions", empty: "No versions." });
  }

  // Edit metadata: S3 keeps an object's metadata with its bytes, so (as AWS's console does) the object is
  // copied onto itself with MetadataDirective REPLACE; its tags are kept (a new version in a versioned bucket)
  const SYSTEM_METADATA = [["ContentType", "Content-Type"], ["CacheControl", "Cache-Control"], ["ContentDisposition", "Content-Disposition"],
    ["ContentEncoding", "Content-Encoding"], ["ContentLanguage", "Content-Language"], ["Expires", "Expires"],
    ["WebsiteRedirectLocation", "x-amz-website-redirect-location"]];
  function metadataModal(bucket, key, head) {
    const current = (name) => (name === "Expires" ? head.ExpiresString || head.Expires : head[name]) || "";
    const inputs = SYSTEM_METADATA.map((m) => [m[0], N.input({ id: "obj-meta-" + m[1].toLowerCase(), value: current(m[0]) }), m[1]]);
    const user = pairsEditor(Object.keys(head.Metadata || {}).sort().map((k) => ({ Key: k, Value: head.Metadata[k] })), "metadata entry");
    N.modal("Edit metadata", h("div", {},
      inputs.map((i) => N.field(i[2], i[1])),
      h("div", { class: "field", id: "obj-meta-user" }, h("span", { class: "label" }, "User-defined metadata (x-amz-meta-KEY: ASCII keys and values)"), user.el,
        h("div", { style: { marginTop: "6px" } }, N.button("Add metadata", async () => user.add(), { id: "obj-meta-add" })))), [{
      text: "Save changes", kind: "primary", id: "obj-meta-submit",
      onclick: async () => {
        const params = { Bucket: bucket, Key: key, CopySource: copySource(bucket, key), MetadataDirective: "REPLACE", Metadata: {} };
        inputs.forEach((i) => { if (i[1].value.trim()) params[i[0]] = i[1].value.trim(); });
        user.read().forEach((p) => { params.Metadata[p.Key.toLowerCase().replace(/^x-amz-meta-/, "")] = p.Value; });
        await s3(bucket, "CopyObject", params);
        N.toast("Metadata saved.");
        N.render();
      },
    }]);
  }

  function shareModal(bucket, key, version) {
    const minutes = N.input({ id: "obj-share-minutes", type: "number", min: 1, max: 60, value: "60", style: { width: "100px" } });
    const out = h("div", { id: "obj-share-result" });
    N.modal("Share with a presigned URL", h("div", {},
      h("p", { class: "muted" }, "Anyone with the URL can download " + JSON.stringify(key) + (version ? " (version " + version + ")" : "") +
        " until it expires. It is signed with your keys: it stops working sooner if they are deactivated."),
      N.field("Expires after (minutes, at most 60)", minutes), out), [{
      text: "Create presigned URL", kind: "primary", id: "obj-share-create",
      onclick: async () => {
        const m = Math.round(Number(minutes.value));
        if (!(m >= 1 && m <= 60)) throw new Error("Choose 1 to 60 minutes.");
        const url = await presign(bucket, "GetObject", Object.assign({ Bucket: bucket, Key: key }, version ? { VersionId: version } : {}), m * 60);
        const box = N.input({ id: "obj-share-url", value: url, readonly: true });
        N.clear(out).appendChild(h("div", { class: "ok" }, N.field("Presigned URL (expires " + N.fmt.time(Date.now() + m * 60000) + ")", box),
          N.button("Copy URL", async () => { box.select(); await navigator.clipboard.writeText(url); N.toast("Copied."); }, { id: "obj-share-copy" })));
        box.select();
        return false; // keep the dialog open to show the URL
      },
    }]);
  }

  async function copyModal(bucket, key, version) {
    const buckets = (await N.paginate("s3", "ListBuckets", {}, "ContinuationToken", "ContinuationToken", "Buckets", { max: 100000 })).map((b) => b.Name);
    const dest = N.select(buckets.includes(bucket) ? buckets : [bucket].concat(buckets), bucket, { id: "obj-copy-bucket" });
    const name = baseName(key);
    // copying an older version onto its own key makes it the current one again (how S3 restores a version)
    const keyInput = submitOnEnter(N.input({ id: "obj-copy-key", value: version ? key : key.slice(0, key.length - name.length) + "copy of " + name }), "obj-copy-submit");
    N.modal("Copy " + name + (version ? " (version " + version + ")" : ""), h("div", {}, N.field("Destination bucket", dest), N.field("Destination key", keyInput,
      "CopyObject keeps the object's metadata and tags.")), [{
      text: "Copy", kind: "primary", id: "obj-copy-submit",
      onclick: async () => {
        const to = dest.value, toKey = keyInput.value;
        if (!toKey) throw new Error("Enter the destination key.");
        if (to === bucket && toKey === key && !version) throw new Error("Choose another key: an object cannot be copied onto itself.");
        await s3(to, "CopyObject", { Bucket: to, Key: toKey, CopySource: copySource(bucket, key) + (version ? "?versionId=" + encodeURIComponent(version) : "") });
        N.toast("Copied to s3://" + to + "/" + toKey + ".");
        N.go(objectHash(to, toKey));
      },
    }]);
  }

  // --- a bucket's properties ------------------------------------------------------------------
  async function propertiesTab(bucket) {
    const [versioning, tagging, notification, list, website, lockConfig] = await Promise.all([
      s3(bucket, "GetBucketVersioning", { Bucket: bucket }),
      optional(s3(bucket, "GetBucketTagging", { Bucket: bucket }), ["NoSuchTagSet"]),
      s3(bucket, "GetBucketNotificationConfiguration", { Bucket: bucket }),
      N.api("s3", "ListBuckets", {}).catch(() => ({ Buckets: [] })),
      optional(s3(bucket, "GetBucketWebsite", { Bucket: bucket }), ["NoSuchWebsiteConfiguration", "NotImplemented"]),
      optional(s3(bucket, "GetObjectLockConfiguration", { Bucket: bucket }), ["ObjectLockConfigurationNotFoundError"]),
    ]);
    const found = (list.Buckets || []).find((b) => b.Name === bucket) || {};
    const locked = lockConfig && lockConfig.ObjectLockConfiguration;
    const status = versioning.Status || "Disabled";
    const vStatus = h("span", { id: "s3-versioning-status", class: "badge" + (status === "Enabled" ? " ok" : "") }, status);
    const versioningPanel = N.panel("Bucket Versioning", h("div", { id: "s3-versioning" },
      h("p", {}, "Status: ", vStatus, versioning.MFADelete ? " (MFA delete: " + versioning.MFADelete + ")" : ""),
      locked ? h("p", { class: "muted" }, "Versioning cannot be suspended while Object Lock is enabled.") : N.button(status === "Enabled" ? "Suspend versioning" : "Enable versioning", async () => {
        const next = status === "Enabled" ? "Suspended" : "Enabled";
        await s3(bucket, "PutBucketVersioning", { Bucket: bucket, VersioningConfiguration: { Status: next } });
        N.toast("Versioning " + next.toLowerCase() + ".");
        N.render();
      }, { id: "s3-versioning-toggle" })));
    const tagsPanel = N.panel("Tags", tagEditor("bucket-tags", (tagging && tagging.TagSet) || [], async (tags) => {
      if (tags.length) await s3(bucket, "PutBucketTagging", { Bucket: bucket, Tagging: { TagSet: tags } });
      else await s3(bucket, "DeleteBucketTagging", { Bucket: bucket });
    }));
    return h("div", {},
      N.panel("Bucket overview", N.kv([["Region", regions.get(bucket)], ["ARN", "arn:aws:s3:::" + bucket], ["Created", N.fmt.time(found.CreationDate)]])),
      versioningPanel, objectLockPanel(bucket, locked, status), tagsPanel, notificationsPanel(bucket, notification), websitePanel(bucket, website));
  }

  // Object Lock: shown with its default retention, which can be set or removed (PutObjectLockConfiguration);
  // a versioned bucket can be given Object Lock, for good.
  function objectLockPanel(bucket, config, versioning) {
    const rule = config && config.Rule && config.Rule.DefaultRetention;
    const mode = N.select([["GOVERNANCE", "Governance"], ["COMPLIANCE", "Compliance"]], (rule && rule.Mode) || "GOVERNANCE", { id: "s3-lock-mode" });
    const days = N.input({ id: "s3-lock-days", type: "number", min: "1", value: rule ? String(rule.Days || (rule.Years || 0) * 365) : "1" });
    const put = async (withRule) => {
      const next = { ObjectLockEnabled: "Enabled" };
      if (withRule) next.Rule = { DefaultRetention: { Mode: mode.value, Days: Number(days.value) } };
      await s3(bucket, "PutObjectLockConfiguration", { Bucket: bucket, ObjectLockConfiguration: next });
      N.toast(withRule ? "Default retention saved." : (config ? "Default retention removed." : "Object Lock enabled."));
      N.render();
    };
    if (!config) {
      return N.panel("Object Lock", h("div", { id: "s3-object-lock" },
        h("p", {}, "Status: ", h("span", { class: "badge", id: "s3-object-lock-status" }, "Disabled")),
        versioning === "Enabled" ? N.button("Enable Object Lock", async () => {
          if (await N.confirm("Object Lock cannot be turned off once enabled. Enable it for " + bucket + "?")) await put(false);
        }, { id: "s3-object-lock-enable" }) : h("p", { class: "muted" }, "Enable versioning first to use Object Lock.")));
    }
    return N.panel("Object Lock", h("div", { id: "s3-object-lock" },
      h("p", {}, "Status: ", h("span", { class: "badge ok", id: "s3-object-lock-status" }, "Enabled"),
        rule ? " · default retention: " + rule.Mode + ", " + (rule.Days ? rule.Days + " days" : rule.Years + " years") : " · no default retention"),
      N.field("Default retention mode", mode), N.field("Default retention period (days)", days),
      h("div", { class: "actions" },
        N.button("Save default retention", async () => put(true), { id: "s3-lock-save", kind: "primary" }),
        rule ? N.button("Remove default retention", async () => put(false), { id: "s3-lock-remove" }) : null)));
  }

  // Static website hosting: Nimbus serves a bucket's website at <bucket>.s3-website.localhost:<port> and at
  // <endpoint>/_aws/s3-website/<bucket>/ (docs/services/s3.md)
  function websitePanel(bucket, website) {
    const endpoint = (N.state.session && N.state.session.endpoint) || location.origin;
    const port = (/:(\d+)$/.exec(endpoint) || [])[1];
    const pathUrl = endpoint + "/_aws/s3-website/" + bucket + "/";
    const hostUrl = "http://" + bucket + ".s3-website.localhost" + (port ? ":" + port : "") + "/";
    const cfg = website || null;
    const pairs = cfg ? [
      ["Status", h("span", { class: "badge ok", id: "s3-website-status" }, "Enabled")],
      cfg.RedirectAllRequestsTo ? ["Redirects requests to", (cfg.RedirectAllRequestsTo.Protocol ? cfg.RedirectAllRequestsTo.Protocol + "://" : "") + cfg.RedirectAllRequestsTo.HostName] : null,
      cfg.IndexDocument ? ["Index document", cfg.IndexDocument.Suffix] : null,
      cfg.ErrorDocument ? ["Error document", cfg.ErrorDocument.Key] : null,
      cfg.RoutingRules && cfg.RoutingRules.length ? ["Redirection rules", String(cfg.RoutingRules.length)] : null,
      ["Endpoints", h("span", {}, N.link(pathUrl, pathUrl, { id: "s3-website-url", target: "_blank", rel: "noopener" }), h("br"),
        N.link(hostUrl, hostUrl, { target: "_blank", rel: "noopener" }))],
    ] : [["Status", h("span", { class: "badge", id: "s3-website-status" }, "Disabled")]];
    return N.panel("Static website hosting", h("div", { id: "s3-website" }, N.kv(pairs),
      h("div", { class: "actions", style: { marginTop: "8px" } }, N.button("Edit", async () => websiteModal(bucket, cfg), { id: "s3-website-edit" }))));
  }

  function websiteModal(bucket, cfg) {
    const mode = N.select([["off", "Disable"], ["host", "Host a static website"], ["redirect", "Redirect requests for an object"]],
      !cfg ? "off" : cfg.RedirectAllRequestsTo ? "redirect" : "host", { id: "s3-website-mode" });
    const index = N.input({ id: "s3-website-index", value: (cfg && cfg.IndexDocument && cfg.IndexDocument.Suffix) || "index.html" });
    const error = N.input({ id: "s3-website-error", value: (cfg && cfg.ErrorDocument && cfg.ErrorDocument.Key) || "", placeholder: "error.html" });
    const host = N.input({ id: "s3-website-redirect-host", value: (cfg && cfg.RedirectAllRequestsTo && cfg.RedirectAllRequestsTo.HostName) || "" });
    const proto = N.select([["", "none"], ["http", "http"], ["https", "https"]], (cfg && cfg.RedirectAllRequestsTo && cfg.RedirectAllRequestsTo.Protocol) || "", { id: "s3-website-redirect-protocol" });
    const hostFields = h("div", {}, N.field("Index document", index, "Served for the site's root and for every \"folder/\"."), N.field("Error document (optional)", error),
      cfg && cfg.RoutingRules && cfg.RoutingRules.length ? h("p", { class: "muted" }, "The configuration's redirection rules are kept.") : null);
    const redirectFields = h("div", {}, N.field("Host name", host), N.field("Protocol", proto));
    const sync = () => { hostFields.hidden = mode.value !== "host"; redirectFields.hidden = mode.value !== "redirect"; };
    mode.addEventListener("change", sync);
    sync();
    N.modal("Edit static website hosting", h("div", {}, N.field("Static website hosting", mode), hostFields, redirectFields), [{
      text: "Save changes", kind: "primary", id: "s3-website-submit",
      onclick: async () => {
        if (mode.value === "off") {
          if (cfg) await s3(bucket, "DeleteBucketWebsite", { Bucket: bucket });
        } else if (mode.value === "host") {
          if (!index.value.trim()) throw new Error("Enter the index document (e.g. index.html).");
          const conf = { IndexDocument: { Suffix: index.value.trim() } };
          if (error.value.trim()) conf.ErrorDocument = { Key: error.value.trim() };
          if (cfg && cfg.RoutingRules && cfg.RoutingRules.length) conf.RoutingRules = cfg.RoutingRules;
          await s3(bucket, "PutBucketWebsite", { Bucket: bucket, WebsiteConfiguration: conf });
        } else {
          if (!host.value.trim()) throw new Error("Enter the host name to redirect to.");
          const to = { HostName: host.value.trim() };
          if (proto.value) to.Protocol = proto.value;
          await s3(bucket, "PutBucketWebsite", { Bucket: bucket, WebsiteConfiguration: { RedirectAllRequestsTo: to } });
        }
        N.toast("Static website hosting saved.");
        N.render();
      },
    }]);
  }

  const NOTIFICATION_KINDS = ["TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations", "EventBridgeConfiguration"];
  function notificationsPanel(bucket, config) {
    const lambdas = config.LambdaFunctionConfigurations || [];
    const others = (config.TopicConfigurations || []).length + (config.QueueConfigurations || []).length;
    const rules = (c) => ((c.Filter && c.Filter.Key && c.Filter.Key.FilterRules) || []).map((r) => r.Name.toLowerCase() + ": " + r.Value).join(", ") || "-";
    const put = async (mutate) => {
      // the whole configuration is replaced, as the API does: read it fresh, change it, put it back
      const now = await s3(bucket, "GetBucketNotificationConfiguration", { Bucket: bucket });
      const next = {};
      NOTIFICATION_KINDS.forEach((k) => { if (now[k] !== undefined && now[k] !== null) next[k] = now[k]; });
      mutate(next);
      ["TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations"].forEach((k) => { if (next[k] && !next[k].length) delete next[k]; });
      await s3(bucket, "PutBucketNotificationConfiguration", { Bucket: bucket, NotificationConfiguration: next });
    };
    return N.panel("Event notifications (" + lambdas.length + ")", h("div", { id: "s3-notifications" },
      h("div", { class: "actions", style: { marginBottom: "8px" } },
        N.button("Create event notification", async () => notificationModal(bucket, put), { id: "s3-notification-create", kind: "primary" })),
      N.table([
        { title: "Name", get: (c) => c.Id || "-" },
        { title: "Event types", get: (c) => (c.Events || []).join(", ") },
        { title: "Filters", get: (c) => rules(c) },
        { title: "Destination", get: (c) => h("span", {}, "Lambda function ", N.link("#/lambda/functions/" + N.q(N.arnName(c.LambdaFunctionArn)), N.arnName(c.LambdaFunctionArn))) },
        { title: "", get: (c) => N.button("Delete", async () => {
          if (!(await confirm("Delete the event notification " + JSON.stringify(c.Id) + "?"))) return;
          await put((next) => { next.LambdaFunctionConfigurations = (next.LambdaFunctionConfigurations || []).filter((x) => x.Id !== c.Id); });
          N.toast("Deleted the event notification.");
          N.render();
        }, { kind: "link s3-notification-delete" }) },
      ], lambdas, { id: "s3-notifications-table", empty: "No event notifications to Lambda functions." }),
      others ? h("p", { class: "muted" }, others + " SNS or SQS destinations are kept as they are.") : null));
  }

  async function notificationModal(bucket, put) {
    const region = await regionOf(bucket);
    const fns = await N.paginate("lambda", "ListFunctions", {}, "Marker", "NextMarker", "Functions", { region, max: 10000 });
    const name = N.input({ id: "s3-notif-name", placeholder: "e.g. new-uploads", autocomplete: "off" });
    const pre = N.input({ id: "s3-notif-prefix", placeholder: "images/" });
    const suf = N.input({ id: "s3-notif-suffix", placeholder: ".jpg" });
    const events = [
      ["s3:ObjectCreated:*", "All object create events", "s3-notif-created"],
      ["s3:ObjectCreated:Put", "Put", "s3-notif-created-put"],
      ["s3:ObjectCreated:Post", "Post", "s3-notif-created-post"],
      ["s3:ObjectCreated:Copy", "Copy", "s3-notif-created-copy"],
      ["s3:ObjectCreated:CompleteMultipartUpload", "Multipart upload completed", "s3-notif-created-mpu"],
      ["s3:ObjectRemoved:*", "All object removal events", "s3-notif-removed"],
      ["s3:ObjectRemoved:Delete", "Permanently deleted", "s3-notif-removed-delete"],
    ].map((e) => ({ event: e[0], box: h("input", { type: "checkbox", id: e[2], value: e[0] }), label: e[1] }));
    const fn = N.select([["", fns.length ? "Choose a function" : "No Lambda functions in " + region]].concat(fns.map((f) => [f.FunctionArn, f.FunctionName])), "", { id: "s3-notif-function" });
    N.modal("Create event notification", h("div", {},
      N.field("Event name", name, "Optional: S3 names it when left empty."),
      N.field("Prefix", pre, "Optional: only keys that start with it."),
      N.field("Suffix", suf, "Optional: only keys that end with it."),
      h("div", { class: "field" }, h("span", { class: "label" }, "Event types"),
        events.map((e) => h("label", { style: { display: "block" } }, e.box, " ", e.label, " ", h("code", { class: "muted" }, e.event)))),
      N.field("Lambda function", fn, "S3 is given permission to invoke it (Lambda AddPermission for s3.amazonaws.com), as AWS's console does.")), [{
      text: "Save changes", kind: "primary", id: "s3-notif-submit",
      onclick: async () => {
        const chosen = events.filter((e) => e.box.checked).map((e) => e.event);
        if (!chosen.length) throw new Error("Choose at least one event type.");
        if (!fn.value) throw new Error("Choose the Lambda function to invoke.");
        await allowS3(bucket, fn.value);
        const item = { LambdaFunctionArn: fn.value, Events: chosen };
        if (name.value.trim()) item.Id = name.value.trim();
        const rules = [];
        if (pre.value) rules.push({ Name: "prefix", Value: pre.value });
        if (suf.value) rules.push({ Name: "suffix", Value: suf.value });
        if (rules.length) item.Filter = { Key: { FilterRules: rules } };
        await put((next) => { next.LambdaFunctionConfigurations = (next.LambdaFunctionConfigurations || []).concat([item]); });
        N.toast("Created the event notification.");
        N.render();
      },
    }]);
  }

  // Lambda AddPermission: S3 may invoke the function for this bucket (what AWS's console adds for you)
  async function allowS3(bucket, functionArn) {
    const region = functionArn.split(":")[3] || (await regionOf(bucket));
    const sourceArn = "arn:aws:s3:::" + bucket;
    const policy = await optional(N.api("lambda", "GetPolicy", { FunctionName: functionArn }, { region }), ["ResourceNotFoundException"]);
    if (policy && policy.Policy) {
      try {
        const doc = JSON.parse(policy.Policy);
        const granted = (doc.Statement || []).some((s) => s.Effect === "Allow" && JSON.stringify(s.Principal || "").includes("s3.amazonaws.com")
          && JSON.stringify(s.Condition || {}).includes(sourceArn) && JSON.stringify(s.Action || "").includes("lambda:InvokeFunction"));
        if (granted) return;
      } catch (e) { /* add one */ }
    }
    const account = (N.state.session && N.state.session.accountId) || (N.state.identity && N.state.identity.Account);
    const params = { FunctionName: functionArn, StatementId: "s3-invoke-" + bucket.replace(/\./g, "_") + "-" + Date.now().toString(36),
      Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com", SourceArn: sourceArn };
    if (account) params.SourceAccount = account;
    await N.api("lambda", "AddPermission", params, { region });
  }

  // --- a bucket's permissions -----------------------------------------------------------------
  async function permissionsTab(bucket) {
    const [policy, cors] = await Promise.all([
      optional(s3(bucket, "GetBucketPolicy", { Bucket: bucket }), ["NoSuchBucketPolicy"]),
      optional(s3(bucket, "GetBucketCors", { Bucket: bucket }), ["NoSuchCORSConfiguration"]),
    ]);
    const policyText = N.textarea({ id: "s3-policy", class: "code", spellcheck: "false", style: { minHeight: "220px" },
      placeholder: '{\n  "Version": "2012-10-17",\n  "Statement": [...]\n}' });
    policyText.value = policy && policy.Policy ? N.fmt.json(policy.Policy) : "";
    const corsText = N.textarea({ id: "s3-cors", class: "code", spellcheck: "false", style: { minHeight: "180px" },
      placeholder: '[\n  {\n    "AllowedMethods": ["GET", "PUT"],\n    "AllowedOrigins": ["http://localhost:3000"],\n    "AllowedHeaders": ["*"]\n  }\n]' });
    corsText.value = cors && cors.CORSRules ? JSON.stringify(cors.CORSRules, null, 2) : "";
    return h("div", {},
      N.panel("Bucket policy", h("p", { class: "muted" }, "A JSON policy document; the bucket's ARN is arn:aws:s3:::" + bucket + ". " + (policy ? "" : "No policy is set.")),
        policyText,
        h("div", { class: "actions", style: { marginTop: "8px" } },
          N.button("Save changes", async () => {
            const text = policyText.value.trim();
            if (!text) throw new Error("The policy is empty: use Delete to remove it.");
            try { JSON.parse(text); } catch (e) { throw jsonError("The policy", e); }
            await s3(bucket, "PutBucketPolicy", { Bucket: bucket, Policy: text });
            N.toast("Bucket policy saved.");
          }, { id: "s3-policy-save", kind: "primary" }),
          N.button("Delete", async () => {
            if (!(await confirm("Delete the bucket policy of " + bucket + "?"))) return;
            await s3(bucket, "DeleteBucketPolicy", { Bucket: bucket });
            policyText.value = "";
            N.toast("Bucket policy deleted.");
          }, { id: "s3-policy-delete", kind: "danger" }))),
      N.panel("Cross-origin resource sharing (CORS)", h("p", { class: "muted" }, "A JSON array of CORS rules (AllowedMethods, AllowedOrigins, AllowedHeaders, ExposeHeaders, MaxAgeSeconds). " + (cors ? "" : "No CORS configuration is set.")),
        corsText,
        h("div", { class: "actions", style: { marginTop: "8px" } },
          N.button("Save changes", async () => {
            let rules;
            try { rules = JSON.parse(corsText.value || "[]"); } catch (e) { throw jsonError("The CORS configuration", e); }
            if (!Array.isArray(rules)) throw new Error("The CORS configuration is a JSON array of rules.");
            if (!rules.length) throw new Error("No rules: use Delete to remove the CORS configuration.");
            await s3(bucket, "PutBucketCors", { Bucket: bucket, CORSConfiguration: { CORSRules: rules } });
            N.toast("CORS configuration saved.");
          }, { id: "s3-cors-save", kind: "primary" }),
          N.button("Delete", async () => {
            if (!(await confirm("Delete the CORS configuration of " + bucket + "?"))) return;
            await s3(bucket, "DeleteBucketCors", { Bucket: bucket });
            corsText.value = "";
            N.toast("CORS configuration deleted.");
          }, { id: "s3-cors-delete", kind: "danger" }))));
  }

  // --- a bucket's lifecycle rules ------------------------------------------------------------
  async function managementTab(bucket) {
    const [found, versioning] = await Promise.all([
      optional(s3(bucket, "GetBucketLifecycleConfiguration", { Bucket: bucket }), ["NoSuchLifecycleConfiguration"]),
      optional(versioningOf(bucket), ["NotImplemented"]),
    ]);
    const rules = (found && found.Rules) || [];
    const scope = (r) => {
      const f = r.Filter || {};
      const prefix = f.Prefix !== undefined ? f.Prefix : f.And ? f.And.Prefix : r.Prefix;
      const tags = f.Tag ? [f.Tag] : (f.And && f.And.Tags) || [];
      const parts = [];
      if (prefix) parts.push("prefix " + prefix);
      tags.forEach((t) => parts.push("tag " + t.Key + "=" + t.Value));
      if (f.ObjectSizeGreaterThan || (f.And && f.And.ObjectSizeGreaterThan)) parts.push("size > " + (f.ObjectSizeGreaterThan || f.And.ObjectSizeGreaterThan));
      if (f.ObjectSizeLessThan || (f.And && f.And.ObjectSizeLessThan)) parts.push("size < " + (f.ObjectSizeLessThan || f.And.ObjectSizeLessThan));
      return parts.length ? parts.join(", ") : "Entire bucket";
    };
    const nDays = (n) => n + (Number(n) === 1 ? " day" : " days");
    const actions = (r) => {
      const out = [];
      const e = r.Expiration || {};
      if (e.Days) out.push("Expire current versions after " + nDays(e.Days));
      if (e.Date) out.push("Expire current versions on " + N.fmt.time(e.Date));
      if (e.ExpiredObjectDeleteMarker) out.push("Delete expired delete markers");
      if (r.NoncurrentVersionExpiration) out.push("Delete noncurrent versions " + nDays(r.NoncurrentVersionExpiration.NoncurrentDays) + " after they become noncurrent" +
        (r.NoncurrentVersionExpiration.NewerNoncurrentVersions ? " (keeping " + r.NoncurrentVersionExpiration.NewerNoncurrentVersions + ")" : ""));
      if (r.AbortIncompleteMultipartUpload) out.push("Abort incomplete multipart uploads after " + nDays(r.AbortIncompleteMultipartUpload.DaysAfterInitiation));
      (r.Transitions || []).forEach((t) => out.push("Transition to " + t.StorageClass + (t.Days !== undefined ? " after " + nDays(t.Days) : " on " + N.fmt.time(t.Date)) + " (recorded only)"));
      (r.NoncurrentVersionTransitions || []).forEach((t) => out.push("Transition noncurrent versions to " + t.StorageClass + " (recorded only)"));
      return out.length ? h("ul", { style: { margin: 0, paddingLeft: "18px" } }, out.map((x) => h("li", {}, x))) : "-";
    };
    const save = async (next) => {
      if (next.length) await s3(bucket, "PutBucketLifecycleConfiguration", { Bucket: bucket, LifecycleConfiguration: { Rules: next } });
      else await s3(bucket, "DeleteBucketLifecycle", { Bucket: bucket });
    };
    return N.panel("Lifecycle rules (" + rules.length + ")", h("div", { id: "s3-lifecycle" },
      h("p", { class: "muted" }, "Nimbus applies expirations (current and noncurrent versions, expired delete markers) and aborts incomplete multipart uploads; transitions are recorded only (one storage class)."),
      h("div", { class: "actions", style: { marginBottom: "8px" } },
        N.button("Create lifecycle rule", async () => lifecycleModal(bucket, rules, null, save, !!versioning), { id: "s3-lc-create", kind: "primary" })),
      N.table([
        { title: "Rule", get: (r) => r.ID || "-" },
        { title: "Status", get: (r) => h("span", { class: "badge" + (r.Status === "Enabled" ? " ok" : "") }, r.Status) },
        { title: "Scope", get: scope },
        { title: "Actions", get: actions },
        { title: "", get: (r) => h("span", { class: "actions" },
          N.button("Edit", async () => lifecycleModal(bucket, rules, r, save, !!versioning), { kind: "link s3-lc-edit" }),
          N.button("Delete", async () => {
            if (!(await confirm("Delete the lifecycle rule " + JSON.stringify(r.ID) + "?"))) return;
            await save(rules.filter((x) => x !== r));
            N.toast("Lifecycle rule deleted.");
            N.render();
          }, { kind: "link s3-lc-delete" })) },
      ], rules, { id: "s3-lifecycle-table", empty: "No lifecycle rules." })));
  }

  function lifecycleModal(bucket, rules, rule, save, versioned) {
    const r = rule || {};
    const f = r.Filter || {};
    const simple = !f.And && !f.Tag && f.ObjectSizeGreaterThan === undefined && f.ObjectSizeLessThan === undefined;
    const e = r.Expiration || {};
    const num = (id, v) => N.input({ id, type: "number", min: 1, value: v === undefined || v === null ? "" : String(v), style: { width: "120px" } });
    const id = N.input({ id: "s3-lc-id", value: r.ID || "", maxlength: 255 });
    const enabled = h("input", { type: "checkbox", id: "s3-lc-enabled", checked: !rule || r.Status === "Enabled" });
    const prefix = N.input({ id: "s3-lc-prefix", value: simple ? (f.Prefix !== undefined ? f.Prefix : r.Prefix || "") : "", placeholder: "logs/ (empty: the entire bucket)", disabled: !simple });
    const expire = num("s3-lc-expire-days", e.Days);
    const noncurrent = num("s3-lc-noncurrent-days", r.NoncurrentVersionExpiration && r.NoncurrentVersionExpiration.NoncurrentDays);
    const abort = num("s3-lc-abort-days", r.AbortIncompleteMultipartUpload && r.AbortIncompleteMultipartUpload.DaysAfterInitiation);
    const markers = h("input", { type: "checkbox", id: "s3-lc-delete-markers", checked: !!e.ExpiredObjectDeleteMarker });
    N.modal(rule ? "Edit lifecycle rule" : "Create lifecycle rule", h("div", {},
      N.field("Rule name", id), h("label", { class: "field" }, enabled, " Enabled"),
      N.field("Prefix filter", prefix, simple ? "Only objects whose keys start with it." : "This rule's filter (tags, sizes) is kept as it is."),
      N.field("Expire current versions of objects after (days)", expire),
      versioned || r.NoncurrentVersionExpiration ? N.field("Permanently delete noncurrent versions after (days)", noncurrent) : null,
      versioned || e.ExpiredObjectDeleteMarker ? h("label", { class: "field" }, markers, " Delete expired object delete markers (not with an expiration of current versions)") : null,
      N.field("Delete incomplete multipart uploads after (days)", abort),
      (r.Transitions || r.NoncurrentVersionTransitions) ? h("p", { class: "muted" }, "The rule's transitions are kept as they are.") : null), [{
      text: rule ? "Save changes" : "Create rule", kind: "primary", id: "s3-lc-submit",
      onclick: async () => {
        const name = id.value.trim();
        if (!name) throw new Error("Enter a rule name.");
        if (rules.some((x) => x.ID === name && x !== rule)) throw new Error("A rule named " + name + " exists already.");
        const days = (input, what) => {
          if (!input.value) return null;
          const n = Number(input.value);
          if (!Number.isInteger(n) || n < 1) throw new Error(what + ": a whole number of days, at least 1.");
          return n;
        };
        const next = Object.assign({}, rule || {}, { ID: name, Status: enabled.checked ? "Enabled" : "Disabled" });
        delete next.Prefix;
        delete next.Expiration;
        delete next.NoncurrentVersionExpiration;
        delete next.AbortIncompleteMultipartUpload;
        next.Filter = simple ? { Prefix: prefix.value } : r.Filter;
        const ex = days(expire, "Expiration"), nc = days(noncurrent, "Noncurrent versions"), ab = days(abort, "Incomplete multipart uploads");
        if (ex && markers.checked) throw new Error("S3 takes an expiration of current versions or the removal of expired delete markers in a rule, not both.");
        if (ex) next.Expiration = { Days: ex };
        else if (e.Date) next.Expiration = { Date: e.Date };
        if (markers.checked) next.Expiration = { ExpiredObjectDeleteMarker: true };
        if (nc) next.NoncurrentVersionExpiration = Object.assign({}, r.NoncurrentVersionExpiration || {}, { NoncurrentDays: nc });
        if (ab) next.AbortIncompleteMultipartUpload = { DaysAfterInitiation: ab };
        if (!next.Expiration && !next.NoncurrentVersionExpiration && !next.AbortIncompleteMultipartUpload && !(next.Transitions || []).length && !(next.NoncurrentVersionTransitions || []).length) {
          throw new Error("Choose at least one action.");
        }
        await save(rule ? rules.map((x) => (x === rule ? next : x)) : rules.concat([next]));
        N.toast("Lifecycle rule saved.");
        N.render();
      },
    }]);
  }

  N.route("/s3", bucketsPage);
  N.route("/s3/buckets", bucketsPage);
  N.route("/s3/buckets/:bucket", bucketPage);
  N.route("/s3/buckets/:bucket/object", objectPage);
})();
