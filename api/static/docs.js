// Renders /openapi.json as a list of operations: no framework, nothing from a CDN.
"use strict";
(function () {
  const root = document.getElementById("ops");
  const el = (tag, attrs, ...kids) => {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    kids.forEach((k) => node.append(k));
    return node;
  };
  const json = (value) => el("pre", {}, JSON.stringify(value, null, 2));
  function resolve(spec, schema) {
    if (schema && schema.$ref) {
      return schema.$ref.split("/").slice(1).reduce((o, k) => o[k], spec);
    }
    return schema;
  }
  function operation(spec, path, method, op) {
    const body = el("div", { class: "body" });
    if (op.description) body.append(el("p", {}, op.description));
    if (op.security) body.append(el("p", {}, "Auth: " + op.security.map((s) => Object.keys(s).join("+")).join(" or ")));
    const params = op.parameters || [];
    if (params.length) {
      const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "schema"), el("th", {}, "description")));
      params.forEach((p) => table.append(el("tr", {}, el("td", {}, p.name + (p.required ? " *" : "")), el("td", {}, p.in), el("td", {}, el("code", {}, JSON.stringify(p.schema || {}))), el("td", {}, p.description || ""))));
      body.append(table);
    }
    if (op.requestBody) {
      Object.entries(op.requestBody.content || {}).forEach(([type, media]) => {
        body.append(el("p", {}, "Request body (" + type + ")"), json(resolve(spec, media.schema || {})));
      });
    }
    const responses = el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning")));
    Object.entries(op.responses || {}).forEach(([status, r]) => responses.append(el("tr", {}, el("td", {}, status), el("td", {}, r.description || ""))));
    body.append(el("p", {}, "Responses"), responses);
    const summary = el("summary", {}, el("span", { class: "m " + method }, method), " ", el("code", {}, path), " ", op.summary || "");
    return el("details", {}, summary, body);
  }
  fetch(root.dataset.spec).then((r) => r.json()).then((spec) => {
    document.getElementById("title").textContent = spec.info.title + " " + spec.info.version;
    const byTag = new Map();
    Object.entries(spec.paths).forEach(([path, item]) => {
      Object.entries(item).forEach(([method, op]) => {
        const tag = (op.tags || ["other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push(operation(spec, path, method, op));
      });
    });
    root.textContent = "";
    byTag.forEach((ops, tag) => root.append(el("h2", {}, tag), ...ops));
  }).catch((err) => { root.textContent = "Could not load the spec: " + err; });
})();
