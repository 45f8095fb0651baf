"use strict";
// IAM: roles (create for a service with managed policies, trust policy, attached and inline policies, delete
// as AWS's console does), users (access keys, console sign-in password, groups, policies), user groups
// (members, policies), customer-managed policies.
(function () {
  const N = window.Nimbus;
  const enc = encodeURIComponent;
  const AWS_POLICY = "arn:aws:iam::aws:policy/";
  const COMMON = [
    "service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaKinesisExecutionRole", "service-role/AWSLambdaRole",
    "AWSLambdaExecute", "AWSLambda_FullAccess", "AmazonS3FullAccess", "AmazonS3ReadOnlyAccess", "AmazonKinesisFullAccess",
    "AmazonKinesisFirehoseFullAccess", "CloudWatchLogsFullAccess", "AdministratorAccess",
  ].map((p) => AWS_POLICY + p);
  const SERVICES = [["lambda.amazonaws.com", "Lambda"], ["firehose.amazonaws.com", "Firehose"], ["apigateway.amazonaws.com", "API Gateway"], ["custom", "Custom trust policy"]];
  const trustFor = (service) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }] }, null, 2);
  const EMPTY_POLICY = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::my-bucket/*"] }] }, null, 2);

  // IAM answers policy documents URL-encoded; decode to an object (or the raw text when it is not JSON).
  const iamDoc = function (doc) {
    if (doc === null || doc === undefined) return null;
    if (typeof doc === "object") return doc;
    const tries = [doc];
    try { tries.push(decodeURIComponent(doc)); } catch (e) { /* not URL-encoded */ }
    try { tries.push(decodeURIComponent(doc.replace(/\+/g, " "))); } catch (e) { /* idem */ }
    for (const t of tries) { try { return JSON.parse(t); } catch (e) { /* next */ } }
    return tries[tries.length - 1];
  };
  const pretty = (doc) => { const d = iamDoc(doc); return typeof d === "string" ? d : JSON.stringify(d, null, 2); };
  const list = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
  function trusted(doc) {
    const d = iamDoc(doc);
    const out = [];
    for (const st of list(d && d.Statement)) {
      const p = st.Principal;
      if (p === "*") out.push("*");
      else if (p && typeof p === "object") Object.keys(p).forEach((k) => list(p[k]).forEach((v) => out.push(k === "Service" ? v : k + ": " + v)));
    }
    return Array.from(new Set(out)).join(", ");
  }
  const policyName = (arn) => String(arn).split("/").pop();
  const tabs = (active) => N.tabs([["Roles", "#/iam"], ["Users", "#/iam/users"], ["User groups", "#/iam/groups"], ["Policies", "#/iam/policies"]], active);
  const jsonArea = (id, text) => N.textarea({ id, class: "code", spellcheck: "false", value: text, style: { minHeight: "220px" } });
  function parseJson(text) {
    try { JSON.parse(text); } catch (e) { const err = new Error("The policy is not valid JSON: " + e.message); err.code = "MalformedPolicyDocument"; throw err; }
    return text;
  }
  async function localPolicies() {
    return N.paginate("iam", "ListPolicies", { Scope: "Local", MaxItems: 1000 }, "Marker", "Marker", "Policies");
  }

  // --- policies of a role or a user (one implementation for both) -------------------------------
  // kind: "Role" | "User"
  function ops(kind, name) {
    const key = kind + "Name";
    const p = (extra) => Object.assign({ [key]: name }, extra || {});
    return {
      attached: () => N.paginate("iam", "ListAttached" + kind + "Policies", p(), "Marker", "Marker", "AttachedPolicies"),
      inline: () => N.paginate("iam", "List" + kind + "Policies", p(), "Marker", "Marker", "PolicyNames"),
      attach: (arn) => N.api("iam", "Attach" + kind + "Policy", p({ PolicyArn: arn })),
      detach: (arn) => N.api("iam", "Detach" + kind + "Policy", p({ PolicyArn: arn })),
      get: (pn) => N.api("iam", "Get" + kind + "Policy", p({ PolicyName: pn })),
      put: (pn, doc) => N.api("iam", "Put" + kind + "Policy", p({ PolicyName: pn, PolicyDocument: doc })),
      del: (pn) => N.api("iam", "Delete" + kind + "Policy", p({ PolicyName: pn })),
    };
  }

  async function policyPanels(kind, name) {
    const o = ops(kind, name);
    const [attached, inline] = await Promise.all([o.attached(), o.inline()]);
    const attachModal = async () => {
      const have = new Set(attached.map((a) => a.PolicyArn));
      const locals = await localPolicies().catch(() => []);
      const choices = COMMON.concat(locals.map((l) => l.Arn)).filter((a) => !have.has(a));
      const sel = N.select([["", "Choose a policy…"]].concat(choices.map((a) => [a, (a.startsWith(AWS_POLICY) ? "AWS managed: " : "Customer managed: ") + policyName(a)])), "", { id: "attach-policy-select" });
      const arn = N.input({ id: "attach-policy-arn", placeholder: "or a policy ARN" });
      N.modal("Attach a policy to " + name, [N.field("Policy", sel), N.field("Policy ARN", arn)], [{
        text: "Attach", kind: "primary", id: "attach-policy-submit", onclick: async () => {
          const target = arn.value.trim() || sel.value;
          if (!target) throw new Error("Choose a policy.");
          await o.attach(target);
          N.toast("Attached " + policyName(target));
          N.render();
        },
      }]);
    };
    const inlineModal = async (pn) => {
      const current = pn ? pretty((await o.get(pn)).PolicyDocument) : EMPTY_POLICY;
      const nameIn = N.input({ id: "inline-policy-name", value: pn || "", disabled: !!pn });
      const area = jsonArea("inline-policy-document", current);
      N.modal(pn ? "Inline policy " + pn : "Create inline policy", [N.field("Policy name", nameIn), N.field("Policy document (JSON)", area)], [{
        text: "Save", kind: "primary", id: "inline-policy-submit", onclick: async () => {
          const n = nameIn.value.trim();
          await o.put(n, parseJson(area.value));
          N.toast("Saved inline policy " + n);
          N.render();
        },
      }]);
    };
    return [
      N.panel("Permissions policies (attached)",
        N.h("div", { class: "actions", style: { marginBottom: "8px" } }, N.button("Attach policy", attachModal, { id: "attach-policy" })),
        N.table([
          { title: "Policy", get: (a) => a.PolicyArn.startsWith(AWS_POLICY) ? a.PolicyName : N.link("#/iam/policies/" + enc(a.PolicyArn), a.PolicyName) },
          { title: "Type", get: (a) => (a.PolicyArn.startsWith(AWS_POLICY) ? "AWS managed" : "Customer managed") },
          { title: "ARN", get: (a) => a.PolicyArn },
          { title: "", get: (a) => N.button("Detach", async () => {
            if (!(await N.confirm("Detach " + a.PolicyName + " from " + name + "?"))) return;
            await o.detach(a.PolicyArn); N.toast("Detached " + a.PolicyName); N.render();
          }, { kind: "link", id: "detach-" + a.PolicyName }) },
        ], attached, { id: "attached-policies", empty: "No managed policies attached." })),
      N.panel("Inline policies",
        N.h("div", { class: "actions", style: { marginBottom: "8px" } }, N.button("Create inline policy", () => inlineModal(null), { id: "inline-policy-create" })),
        N.table([
          { title: "Name", get: (pn) => pn },
          { title: "", get: (pn) => N.h("span", { class: "actions" },
            N.button("View / edit", () => inlineModal(pn), { kind: "link", id: "inline-edit-" + pn }),
            N.button("Delete", async () => {
              if (!(await N.confirm("Delete the inline policy " + pn + "?"))) return;
              await o.del(pn); N.toast("Deleted " + pn); N.render();
            }, { kind: "link", id: "inline-delete-" + pn })) },
        ], inline, { id: "inline-policies", empty: "No inline policies." })),
    ];
  }

  // Detach managed policies and delete inline ones first, as AWS's console does before DeleteRole/DeleteUser.
  async function stripPolicies(kind, name) {
    const o = ops(kind, name);
    const [attached, inline] = await Promise.all([o.attached(), o.inline()]);
    for (const a of attached) await o.detach(a.PolicyArn);
    for (const pn of inline) await o.del(pn);
  }

  // --- roles ---------------------------------------------------------------------------------
  N.route("/iam", async (view) => {
    const roles = await N.paginate("iam", "ListRoles", { MaxItems: 1000 }, "Marker", "Marker", "Roles");
    view.appendChild(N.page("IAM", { actions: [N.button("Create role", async () => N.go("#/iam/create-role"), { kind: "primary", id: "iam-create-role" })] },
      tabs("Roles"),
      N.table([
        { title: "Role name", get: (r) => N.link("#/iam/roles/" + enc(r.RoleName), r.RoleName, { class: "role-link" }) },
        { title: "Trusted entities", get: (r) => trusted(r.AssumeRolePolicyDocument) || "-" },
        { title: "Description", get: (r) => r.Description || "" },
        { title: "Created", get: (r) => N.fmt.time(r.CreateDate) },
      ], roles, { id: "iam-roles", empty: "No roles yet." })));
  });

  N.route("/iam/create-role", async (view) => {
    const name = N.input({ id: "role-name", placeholder: "my-function-role" });
    const desc = N.input({ id: "role-description" });
    const trust = jsonArea("role-trust", trustFor("lambda.amazonaws.com"));
    const service = N.select(SERVICES, "lambda.amazonaws.com", { id: "role-service", onchange: () => {
      if (service.value !== "custom") trust.value = trustFor(service.value);
    } });
    const locals = await localPolicies().catch(() => []);
    const boxes = COMMON.map((a) => ({ arn: a, label: "AWS managed: " + policyName(a) })).concat(locals.map((l) => ({ arn: l.Arn, label: "Customer managed: " + l.PolicyName })))
      .map((c) => ({ arn: c.arn, box: N.h("input", { type: "checkbox", id: "role-policy-" + policyName(c.arn), value: c.arn, class: "role-policy" }), label: c.label }));
    const err = N.h("div");
    const submit = N.button("Create role", async () => {
      N.clear(err);
      try {
        const roleName = name.value.trim();
        const p = { RoleName: roleName, AssumeRolePolicyDocument: parseJson(trust.value) };
        if (desc.value.trim()) p.Description = desc.value.trim();
        await N.api("iam", "CreateRole", p);
        for (const b of boxes.filter((x) => x.box.checked)) await N.api("iam", "AttachRolePolicy", { RoleName: roleName, PolicyArn: b.arn });
        N.toast("Created role " + roleName);
        N.go("#/iam/roles/" + enc(roleName));
      } catch (e) { err.appendChild(N.errorBox(e)); }
    }, { kind: "primary", id: "role-submit" });
    view.appendChild(N.page("Create role", { breadcrumbs: [["IAM", "#/iam"], ["Roles", "#/iam"], ["Create role"]] },
      N.panel("Trusted entity", N.field("AWS service that may assume the role", service), N.field("Trust policy", trust, "Chosen from the service; edit it, or choose Custom, for any other principal.")),
      N.panel("Permissions", N.h("div", { id: "role-policies" }, boxes.map((b) => N.h("label", { style: { display: "block", margin: "3px 0" } }, b.box, " ", b.label)))),
      N.panel("Name", N.field("Role name", name), N.field("Description (optional)", desc)),
      err, submit));
  });

  N.route("/iam/roles/:name", async (view, params) => {
    const name = params.name;
    const role = (await N.api("iam", "GetRole", { RoleName: name })).Role;
    const trustDoc = pretty(role.AssumeRolePolicyDocument);
    const editTrust = () => {
      const area = jsonArea("role-trust-edit", trustDoc);
      N.modal("Edit trust policy", N.field("Trust policy", area), [{
        text: "Update", kind: "primary", id: "role-trust-submit", onclick: async () => {
          await N.api("iam", "UpdateAssumeRolePolicy", { RoleName: name, PolicyDocument: parseJson(area.value) });
          N.toast("Trust policy updated"); N.render();
        },
      }]);
    };
    const del = async () => {
      if (!(await N.confirm("Delete the role " + name + "? Its policies are detached and its inline policies deleted first."))) return;
      await stripPolicies("Role", name);
      try {
        const profiles = await N.paginate("iam", "ListInstanceProfilesForRole", { RoleName: name }, "Marker", "Marker", "InstanceProfiles");
        for (const ip of profiles) await N.api("iam", "RemoveRoleFromInstanceProfile", { RoleName: name, InstanceProfileName: ip.InstanceProfileName });
      } catch (e) { /* no instance profiles */ }
      await N.api("iam", "DeleteRole", { RoleName: name });
      N.toast("Deleted role " + name);
      N.go("#/iam");
    };
    view.appendChild(N.page(name, {
      id: "role-title", breadcrumbs: [["IAM", "#/iam"], ["Roles", "#/iam"], [name]],
      actions: [N.button("Delete role", del, { kind: "danger", id: "role-delete" })],
    },
    N.panel("Summary", N.kv([["ARN", N.h("code", { id: "role-arn" }, role.Arn)], ["Trusted entities", trusted(role.AssumeRolePolicyDocument)],
      ["Description", role.Description], ["Created", N.fmt.time(role.CreateDate)], ["Path", role.Path],
      ["Maximum session duration", role.MaxSessionDuration ? role.MaxSessionDuration / 3600 + " h" : null]])),
    N.panel("Trust policy", N.h("div", { class: "actions" }, N.button("Edit trust policy", async () => editTrust(), { id: "role-trust-edit-open" })),
      N.h("pre", { class: "code", id: "role-trust-policy" }, trustDoc)),
    await policyPanels("Role", name)));
  });

  // --- users ---------------------------------------------------------------------------------
  N.route("/iam/users", async (view) => {
    const users = await N.paginate("iam", "ListUsers", { MaxItems: 1000 }, "Marker", "Marker", "Users");
    const create = () => {
      const name = N.input({ id: "user-name" });
      N.modal("Create user", N.field("User name", name, "Then create an access key on the user's page."), [{
        text: "Create user", kind: "primary", id: "user-submit", onclick: async () => {
          const n = name.value.trim();
          await N.api("iam", "CreateUser", { UserName: n });
          N.toast("Created user " + n);
          N.go("#/iam/users/" + enc(n));
        },
      }]);
    };
    view.appendChild(N.page("IAM", { actions: [N.button("Create user", async () => create(), { kind: "primary", id: "iam-create-user" })] },
      tabs("Users"),
      N.table([
        { title: "User name", get: (u) => N.link("#/iam/users/" + enc(u.UserName), u.UserName, { class: "user-link" }) },
        { title: "ARN", get: (u) => u.Arn },
        { title: "Created", get: (u) => N.fmt.time(u.CreateDate) },
      ], users, { id: "iam-users", empty: "No users yet." })));
  });

  N.route("/iam/users/:name", async (view, params) => {
    const name = params.name;
    const [user, keys] = await Promise.all([
      N.api("iam", "GetUser", { UserName: name }).then((r) => r.User),
      N.api("iam", "ListAccessKeys", { UserName: name }).then((r) => r.AccessKeyMetadata || []),
    ]);
    const createKey = async () => {
      const k = (await N.api("iam", "CreateAccessKey", { UserName: name })).AccessKey;
      const m = N.modal("Access key created", [
        N.h("p", {}, "This is the only time the secret access key is shown. Copy it now."),
        N.kv([["Access key ID", N.h("code", { id: "key-id" }, k.AccessKeyId)], ["Secret access key", N.h("code", { id: "key-secret" }, k.SecretAccessKey)]]),
        N.h("pre", { class: "code" }, "export AWS_ACCESS_KEY_ID=" + k.AccessKeyId + "\nexport AWS_SECRET_ACCESS_KEY=" + k.SecretAccessKey),
      ], [{ text: "Done", kind: "primary", id: "key-done", onclick: async () => { N.render(); } }]);
      return m;
    };
    const del = async () => {
      if (!(await N.confirm("Delete the user " + name + "? Its access keys and console password are deleted, and its policies and groups removed, first."))) return;
      await stripPolicies("User", name);
      for (const k of (await N.api("iam", "ListAccessKeys", { UserName: name })).AccessKeyMetadata || []) {
        await N.api("iam", "DeleteAccessKey", { UserName: name, AccessKeyId: k.AccessKeyId });
      }
      try {
        const groups = await N.paginate("iam", "ListGroupsForUser", { UserName: name }, "Marker", "Marker", "Groups");
        for (const g of groups) await N.api("iam", "RemoveUserFromGroup", { UserName: name, GroupName: g.GroupName });
      } catch (e) { /* no groups */ }
      try { await N.api("iam", "DeleteLoginProfile", { UserName: name }); }
      catch (e) { if (e.code !== "NoSuchEntity") throw e; }
      await N.api("iam", "DeleteUser", { UserName: name });
      N.toast("Deleted user " + name);
      N.go("#/iam/users");
    };
    view.appendChild(N.page(name, {
      id: "user-title", breadcrumbs: [["IAM", "#/iam"], ["Users", "#/iam/users"], [name]],
      actions: [N.button("Delete user", del, { kind: "danger", id: "user-delete" })],
    },
    N.panel("Summary", N.kv([["ARN", N.h("code", { id: "user-arn" }, user.Arn)], ["User ID", user.UserId], ["Created", N.fmt.time(user.CreateDate)], ["Path", user.Path]])),
    N.panel("Access keys",
      N.h("div", { class: "actions", style: { marginBottom: "8px" } }, N.button("Create access key", createKey, { id: "user-create-key" })),
      N.table([
        { title: "Access key ID", get: (k) => N.h("code", {}, k.AccessKeyId) },
        { title: "Status", get: (k) => N.h("span", { class: "badge" + (k.Status === "Active" ? " ok" : " bad"), id: "key-status-" + k.AccessKeyId }, k.Status) },
        { title: "Created", get: (k) => N.fmt.time(k.CreateDate) },
        { title: "", get: (k) => N.h("span", { class: "actions" },
          N.button(k.Status === "Active" ? "Deactivate" : "Activate", async () => {
            await N.api("iam", "UpdateAccessKey", { UserName: name, AccessKeyId: k.AccessKeyId, Status: k.Status === "Active" ? "Inactive" : "Active" });
            N.render();
          }, { kind: "link", id: "key-toggle-" + k.AccessKeyId }),
          N.button("Delete", async () => {
            if (!(await N.confirm("Delete the access key " + k.AccessKeyId + "? Programs using it stop working."))) return;
            await N.api("iam", "DeleteAccessKey", { UserName: name, AccessKeyId: k.AccessKeyId });
            N.render();
          }, { kind: "link", id: "key-delete-" + k.AccessKeyId })) },
      ], keys, { id: "user-keys", empty: "No access keys." })),
    await consolePanel(name),
    await userGroupsPanel(name),
    await policyPanels("User", name)));
  });

  // A user's console password (a login profile): the console's IAM-user sign-in (account, user name, password)
  async function consolePanel(name) {
    let profile = null;
    try { profile = (await N.api("iam", "GetLoginProfile", { UserName: name })).LoginProfile; }
    catch (e) { if (e.code !== "NoSuchEntity") throw e; }
    const passwordModal = (title, call) => {
      const pw = N.h("input", { type: "password", id: "login-password", autocomplete: "new-password" });
      const reset = N.h("input", { type: "checkbox", id: "login-reset", checked: true });
      N.modal(title, [N.field("Console password", pw, "It must satisfy the account's password policy."),
        N.h("label", { class: "field" }, reset, " The user must create a new password at next sign-in")], [{
        text: "Save", kind: "primary", id: "login-submit", onclick: async () => {
          if (!pw.value) throw new Error("Type a password.");
          await N.api("iam", call, { UserName: name, Password: pw.value, PasswordResetRequired: reset.checked });
          N.toast("Console access saved for " + name); N.render();
        },
      }]);
    };
    const signInUrl = (N.state.session && N.state.session.endpoint || location.origin).replace(/\/$/, "") + "/_nimbus/console/";
    return N.panel("Console sign-in",
      profile ? N.kv([["Console access", N.h("span", { class: "badge ok", id: "login-status" }, "Enabled")], ["Since", N.fmt.time(profile.CreateDate)],
        ["Password reset required", profile.PasswordResetRequired ? "yes" : "no"],
        ["Sign-in", N.h("span", {}, signInUrl, " as IAM user ", N.h("code", {}, name), " of account ", N.h("code", {}, (N.state.session && N.state.session.accountId) || ""))]])
        : N.kv([["Console access", N.h("span", { class: "badge", id: "login-status" }, "Disabled")]]),
      N.h("div", { class: "actions", style: { marginTop: "8px" } },
        profile ? [N.button("Reset password", async () => passwordModal("Reset the console password of " + name, "UpdateLoginProfile"), { id: "login-update" }),
          N.button("Disable console access", async () => {
            if (!(await N.confirm("Disable console access for " + name + "? Its password is deleted; access keys keep working."))) return;
            await N.api("iam", "DeleteLoginProfile", { UserName: name }); N.toast("Console access disabled"); N.render();
          }, { kind: "danger", id: "login-delete" })]
          : N.button("Enable console access", async () => passwordModal("Enable console access for " + name, "CreateLoginProfile"), { kind: "primary", id: "login-create" })));
  }

  async function userGroupsPanel(name) {
    const groups = await N.paginate("iam", "ListGroupsForUser", { UserName: name }, "Marker", "Marker", "Groups");
    const add = async () => {
      const have = new Set(groups.map((g) => g.GroupName));
      const all = (await N.paginate("iam", "ListGroups", { MaxItems: 1000 }, "Marker", "Marker", "Groups")).filter((g) => !have.has(g.GroupName));
      const sel = N.select([["", "Choose a group…"]].concat(all.map((g) => [g.GroupName, g.GroupName])), "", { id: "user-group-select" });
      N.modal("Add " + name + " to a group", N.field("Group", sel, all.length ? "" : "No other group: create one under User groups."), [{
        text: "Add", kind: "primary", id: "user-group-submit", onclick: async () => {
          if (!sel.value) throw new Error("Choose a group.");
          await N.api("iam", "AddUserToGroup", { UserName: name, GroupName: sel.value }); N.toast("Added to " + sel.value); N.render();
        },
      }]);
    };
    return N.panel("Groups",
      N.h("div", { class: "actions", style: { marginBottom: "8px" } }, N.button("Add to group", add, { id: "user-group-add" })),
      N.table([
        { title: "Group", get: (g) => N.link("#/iam/groups/" + enc(g.GroupName), g.GroupName) },
        { title: "", get: (g) => N.button("Remove", async () => {
          await N.api("iam", "RemoveUserFromGroup", { UserName: name, GroupName: g.GroupName }); N.toast("Removed from " + g.GroupName); N.render();
        }, { kind: "link", id: "user-group-remove-" + g.GroupName }) },
      ], groups, { id: "user-groups", empty: "In no group." }));
  }

  // --- user groups ----------------------------------------------------------------------------
  N.route("/iam/groups", async (view) => {
    const groups = await N.paginate("iam", "ListGroups", { MaxItems: 1000 }, "Marker", "Marker", "Groups");
    const create = () => {
      const name = N.input({ id: "group-name" });
      N.modal("Create user group", N.field("Group name", name, "Then add users and attach policies on the group's page."), [{
        text: "Create group", kind: "primary", id: "group-submit", onclick: async () => {
          const n = name.value.trim();
          await N.api("iam", "CreateGroup", { GroupName: n });
          N.toast("Created group " + n);
          N.go("#/iam/groups/" + enc(n));
        },
      }]);
    };
    view.appendChild(N.page("IAM", { actions: [N.button("Create group", async () => create(), { kind: "primary", id: "iam-create-group" })] },
      tabs("User groups"),
      N.table([
        { title: "Group name", get: (g) => N.link("#/iam/groups/" + enc(g.GroupName), g.GroupName, { class: "group-link" }) },
        { title: "ARN", get: (g) => g.Arn },
        { title: "Created", get: (g) => N.fmt.time(g.CreateDate) },
      ], groups, { id: "iam-groups", empty: "No user groups yet." })));
  });

  N.route("/iam/groups/:name", async (view, params) => {
    const name = params.name;
    const got = await N.api("iam", "GetGroup", { GroupName: name, MaxItems: 1000 });
    const group = got.Group, members = got.Users || [];
    const addUsers = async () => {
      const have = new Set(members.map((u) => u.UserName));
      const users = (await N.paginate("iam", "ListUsers", { MaxItems: 1000 }, "Marker", "Marker", "Users")).filter((u) => !have.has(u.UserName));
      const boxes = users.map((u) => ({ name: u.UserName, box: N.h("input", { type: "checkbox", class: "group-add-user", value: u.UserName, id: "group-add-" + u.UserName }) }));
      N.modal("Add users to " + name, boxes.length ? boxes.map((b) => N.h("label", { class: "field" }, b.box, " " + b.name)) : N.h("p", {}, "Every user is in the group already."), [{
        text: "Add users", kind: "primary", id: "group-add-submit", onclick: async () => {
          const chosen = boxes.filter((b) => b.box.checked).map((b) => b.name);
          if (!chosen.length) throw new Error("Choose the users to add.");
          for (const u of chosen) await N.api("iam", "AddUserToGroup", { GroupName: name, UserName: u });
          N.toast("Added " + chosen.join(", ")); N.render();
        },
      }]);
    };
    const del = async () => {
      if (!(await N.confirm("Delete the group " + name + "? Its users are removed from it and its policies detached first."))) return;
      for (const u of members) await N.api("iam", "RemoveUserFromGroup", { GroupName: name, UserName: u.UserName });
      await stripPolicies("Group", name);
      await N.api("iam", "DeleteGroup", { GroupName: name });
      N.toast("Deleted group " + name);
      N.go("#/iam/groups");
    };
    view.appendChild(N.page(name, {
      id: "group-title", breadcrumbs: [["IAM", "#/iam"], ["User groups", "#/iam/groups"], [name]],
      actions: [N.button("Delete group", del, { kind: "danger", id: "group-delete" })],
    },
    N.panel("Summary", N.kv([["ARN", N.h("code", {}, group.Arn)], ["Group ID", group.GroupId], ["Created", N.fmt.time(group.CreateDate)], ["Path", group.Path]])),
    N.panel("Users",
      N.h("div", { class: "actions", style: { marginBottom: "8px" } }, N.button("Add users", addUsers, { id: "group-add-users" })),
      N.table([
        { title: "User", get: (u) => N.link("#/iam/users/" + enc(u.UserName), u.UserName) },
        { title: "", get: (u) => N.button("Remove", async () => {
          await N.api("iam", "RemoveUserFromGroup", { GroupName: name, UserName: u.UserName }); N.toast("Removed " + u.UserName); N.render();
        }, { kind: "link", id: "group-remove-" + u.UserName }) },
      ], members, { id: "group-users", empty: "No users in the group." })),
    await policyPanels("Group", name)));
  });

  // --- customer-managed policies ------------------------------------------------------------
  N.route("/iam/policies", async (view) => {
    const policies = await localPolicies();
    const create = () => {
      const name = N.input({ id: "policy-name" });
      const desc = N.input({ id: "policy-description" });
      const area = jsonArea("policy-document", EMPTY_POLICY);
      N.modal("Create policy", [N.field("Policy name", name), N.field("Description (optional)", desc), N.field("Policy document (JSON)", area)], [{
        text: "Create policy", kind: "primary", id: "policy-submit", onclick: async () => {
          const p = { PolicyName: name.value.trim(), PolicyDocument: parseJson(area.value) };
          if (desc.value.trim()) p.Description = desc.value.trim();
          const made = (await N.api("iam", "CreatePolicy", p)).Policy;
          N.toast("Created policy " + made.PolicyName);
          N.go("#/iam/policies/" + enc(made.Arn));
        },
      }]);
    };
    view.appendChild(N.page("IAM", { actions: [N.button("Create policy", async () => create(), { kind: "primary", id: "iam-create-policy" })] },
      tabs("Policies"),
      N.table([
        { title: "Policy name", get: (p) => N.link("#/iam/policies/" + enc(p.Arn), p.PolicyName, { class: "policy-link" }) },
        { title: "Attachments", get: (p) => String(p.AttachmentCount || 0) },
        { title: "Default version", get: (p) => p.DefaultVersionId },
        { title: "Updated", get: (p) => N.fmt.time(p.UpdateDate) },
      ], policies, { id: "iam-policies", empty: "No customer-managed policies yet." })));
  });

  N.route("/iam/policies/:arn", async (view, params) => {
    const arn = params.arn;
    const policy = (await N.api("iam", "GetPolicy", { PolicyArn: arn })).Policy;
    const [version, entities] = await Promise.all([
      N.api("iam", "GetPolicyVersion", { PolicyArn: arn, VersionId: policy.DefaultVersionId }).then((r) => r.PolicyVersion),
      N.api("iam", "ListEntitiesForPolicy", { PolicyArn: arn }).catch(() => ({})),
    ]);
    const doc = pretty(version.Document);
    const isAws = arn.startsWith(AWS_POLICY);
    const edit = () => {
      const area = jsonArea("policy-edit-document", doc);
      N.modal("New version of " + policy.PolicyName, N.field("Policy document (JSON)", area, "Saved as a new default version (CreatePolicyVersion); the oldest non-default version is deleted when there are already 5."), [{
        text: "Save", kind: "primary", id: "policy-edit-submit", onclick: async () => {
          const text = parseJson(area.value);
          const versions = (await N.api("iam", "ListPolicyVersions", { PolicyArn: arn })).Versions || [];
          if (versions.length >= 5) {
            const oldest = versions.filter((v) => !v.IsDefaultVersion).sort((a, b) => String(a.CreateDate).localeCompare(String(b.CreateDate)))[0];
            if (oldest) await N.api("iam", "DeletePolicyVersion", { PolicyArn: arn, VersionId: oldest.VersionId });
          }
          await N.api("iam", "CreatePolicyVersion", { PolicyArn: arn, PolicyDocument: text, SetAsDefault: true });
          N.toast("Saved"); N.render();
        },
      }]);
    };
    const del = async () => {
      if (!(await N.confirm("Delete the policy " + policy.PolicyName + "? It is detached from every role, user and group first."))) return;
      for (const r of entities.PolicyRoles || []) await N.api("iam", "DetachRolePolicy", { RoleName: r.RoleName, PolicyArn: arn });
      for (const u of entities.PolicyUsers || []) await N.api("iam", "DetachUserPolicy", { UserName: u.UserName, PolicyArn: arn });
      for (const g of entities.PolicyGroups || []) await N.api("iam", "DetachGroupPolicy", { GroupName: g.GroupName, PolicyArn: arn });
      for (const v of (await N.api("iam", "ListPolicyVersions", { PolicyArn: arn })).Versions || []) {
        if (!v.IsDefaultVersion) await N.api("iam", "DeletePolicyVersion", { PolicyArn: arn, VersionId: v.VersionId });
      }
      await N.api("iam", "DeletePolicy", { PolicyArn: arn });
      N.toast("Deleted policy " + policy.PolicyName);
      N.go("#/iam/policies");
    };
    const attachedTo = [].concat((entities.PolicyRoles || []).map((r) => N.link("#/iam/roles/" + enc(r.RoleName), "role " + r.RoleName)),
      (entities.PolicyUsers || []).map((u) => N.link("#/iam/users/" + enc(u.UserName), "user " + u.UserName)),
      (entities.PolicyGroups || []).map((g) => N.link("#/iam/groups/" + enc(g.GroupName), "group " + g.GroupName)));
    view.appendChild(N.page(policy.PolicyName, {
      id: "policy-title", breadcrumbs: [["IAM", "#/iam"], ["Policies", "#/iam/policies"], [policy.PolicyName]],
      actions: isAws ? [] : [N.button("Edit", async () => edit(), { id: "policy-edit" }), N.button("Delete policy", del, { kind: "danger", id: "policy-delete" })],
    },
    N.panel("Summary", N.kv([["ARN", N.h("code", {}, policy.Arn)], ["Description", policy.Description], ["Default version", policy.DefaultVersionId],
      ["Created", N.fmt.time(policy.CreateDate)], ["Updated", N.fmt.time(policy.UpdateDate)],
      ["Attached to", attachedTo.length ? N.h("span", {}, attachedTo.map((a, i) => [i ? ", " : "", a])) : "nothing"]])),
    N.panel("Policy document", N.h("pre", { class: "code", id: "policy-document-view" }, doc))));
  });
})();
