/* Kindred console: segments.
 *
 *   /ui/segments        every segment: size, freshness (computed_at, lag), a size-over-time
 *                       sparkline                                        (view segments-view)
 *   /ui/segments/new    create a segment from the rule language, the API's validation
 *                       messages next to the field                    (view segment-new-view)
 *   /ui/segments/{id}   one segment: definition, members (paged, searchable), entered/exited
 *                       changes, CSV and NDJSON export                    (view segment-view)
 *
 * Registers itself with window.Kindred (ui.js). Every value from the API reaches the DOM as
 * text, never as HTML; charts are SVG built here (no library).
 */
"use strict";

(() => {
  const K = window.Kindred;
  const { h, clear, show, setText, timeEl, isBlank, fmtValue, shortId } = K;
  const { profileHref, showError, api, section, navigate, ROOT } = K;
  const SVG = "http://www.w3.org/2000/svg";
  const MEMBERS_PAGE = 50;
  const CHANGES_PAGE = 25;
  const MEMBER_FIELDS = "name,first_name,last_name,email,company,computed.lead_score.score,computed.temperature.value";
  const ACCOUNT_FIELDS = "account.name,account.domain,industry,account_computed.account_score";
  const EXAMPLE_RULE = `{"all": [
  {"computed": "lead_score", "op": "gte", "value": 60},
  {"not": {"event": "Demo Requested", "within_days": 90}}
]}`;

  /** The key ui.js keeps (it does not export its getter); the download needs it in a header. */
  function getKey() {
    try {
      return window.localStorage.getItem("kindred.apiKey") || "";
    } catch (_err) {
      return "";
    }
  }

  const segHref = (id) => `${ROOT}/ui/segments/${encodeURIComponent(id)}`;
  const accountHref = (id) => `${ROOT}/ui/accounts/${encodeURIComponent(id)}`;

  function num(v) {
    if (isBlank(v)) return "\u2014";
    const n = Number(v);
    return Number.isNaN(n) ? String(v) : n.toLocaleString();
  }

  /** Seconds as "0.4 s", "12 s", "3 min", "2 h", "4 d". */
  function fmtLag(seconds) {
    if (seconds === null || seconds === undefined) return "not computed yet";
    const s = Number(seconds);
    if (s < 10) return `${s.toFixed(1)} s`;
    if (s < 120) return `${Math.round(s)} s`;
    if (s < 7200) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${Math.round(s / 3600)} h`;
    return `${Math.round(s / 86400)} d`;
  }

  function lagClass(seconds) {
    if (seconds === null || seconds === undefined) return "lag lag-none";
    if (seconds < 60) return "lag lag-ok";
    if (seconds < 3600) return "lag lag-warn";
    return "lag lag-bad";
  }

  function svg(tag, attrs) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  /** A step line of the size over time (one point per bucket with changes, then now). */
  function sparkline(history, width, height) {
    const w = width || 160;
    const ht = height || 34;
    const pts = (history.points || []).map((p) => [new Date(p.at).getTime(), Number(p.size)]);
    const now = new Date(history.now || Date.now()).getTime();
    if (pts.length) pts.push([Math.max(now, pts[pts.length - 1][0]), Number(history.member_count)]);
    const el = svg("svg", {
      class: "sparkline",
      width: w,
      height: ht,
      viewBox: `0 0 ${w} ${ht}`,
      role: "img",
      "aria-label": pts.length
        ? `size over time: from ${pts[0][1]} to ${pts[pts.length - 1][1]}`
        : "no size history yet",
    });
    const title = svg("title");
    title.textContent = pts.length
      ? `${pts.length - 1} change bucket(s) of ${fmtLag(history.bucket_seconds)}; now ${history.member_count}`
      : "no changes logged yet";
    el.append(title);
    if (!pts.length) {
      el.append(svg("line", { x1: 2, y1: ht - 3, x2: w - 2, y2: ht - 3, class: "spark-empty" }));
      return el;
    }
    const t0 = pts[0][0];
    const t1 = pts[pts.length - 1][0];
    const maxV = Math.max(1, ...pts.map((p) => p[1]));
    const pad = 3;
    const x = (t) => (t1 > t0 ? pad + ((t - t0) / (t1 - t0)) * (w - 2 * pad) : w - pad);
    const y = (v) => ht - pad - (v / maxV) * (ht - 2 * pad);
    let d = `M${x(pts[0][0]).toFixed(1)},${y(0).toFixed(1)} L${x(pts[0][0]).toFixed(1)},${y(pts[0][1]).toFixed(1)}`;
    for (let i = 1; i < pts.length; i += 1) {
      d += ` H${x(pts[i][0]).toFixed(1)} V${y(pts[i][1]).toFixed(1)}`;
    }
    const area = `${d} V${y(0).toFixed(1)} Z`;
    el.append(svg("path", { d: area, class: "spark-area" }));
    el.append(svg("path", { d, class: "spark-line" }));
    const last = pts[pts.length - 1];
    el.append(svg("circle", { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 2.5, class: "spark-dot" }));
    return el;
  }

  // ------------------------------------------------------------------ list

  let listSeq = 0;

  function buildList() {
    const el = section("segments-view");
    if (el.dataset.built) return;
    el.dataset.built = "1";
    el.append(
      h(
        "div",
        { class: "card" },
        h(
          "div",
          { class: "card-head" },
          h("h1", null, "Segments ", h("span", { class: "h-note" }, "size, freshness, size over time")),
          h("a", { href: `${ROOT}/ui/segments/new`, class: "button primary", id: "segment-new-link" }, "New segment"),
        ),
        h("p", { id: "segments-summary", class: "muted" }, "Loading\u2026"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "segments-table", class: "table hover" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", null, "Segment"),
                h("th", null, "Level"),
                h("th", { class: "num" }, "Size"),
                h("th", null, "Size over time"),
                h("th", null, "Computed"),
                h("th", null, "Lag"),
              ),
            ),
            h("tbody", { id: "segments-body" }),
          ),
        ),
      ),
    );
  }

  async function showList() {
    buildList();
    document.title = "Segments \u00b7 Kindred";
    const seq = ++listSeq;
    const body = clear(K.$("segments-body"));
    let data;
    try {
      data = await api("/v1/segments");
    } catch (err) {
      setText(K.$("segments-summary"), "Segments not available.");
      showError("Could not load the segments", err);
      return;
    }
    if (seq !== listSeq) return;
    const segments = data.segments || [];
    setText(
      K.$("segments-summary"),
      segments.length ? `${segments.length} segment${segments.length === 1 ? "" : "s"}.` : "No segments yet.",
    );
    for (const s of segments) {
      const spark = h("td", { class: "spark-cell" }, h("span", { class: "muted small" }, "\u2026"));
      const row = h(
        "tr",
        { "data-segment-id": String(s.id) },
        h(
          "td",
          { class: "seg-name" },
          h("a", { href: segHref(s.id) }, String(s.name)),
          s.description ? h("div", { class: "muted small" }, String(s.description)) : null,
        ),
        h(
          "td",
          null,
          h("span", { class: "kind" }, String(s.level)),
          s.consent ? h("div", { class: "muted small" }, `consent: ${s.consent}`) : null,
        ),
        h("td", { class: "num seg-size" }, num(s.member_count)),
        spark,
        h("td", null, timeEl(s.computed_at, true)),
        h(
          "td",
          null,
          h("span", { class: lagClass(s.lag_seconds), title: (s.freshness || {}).explanation || "" }, fmtLag(s.lag_seconds)),
          s.pending_profiles ? h("div", { class: "muted small" }, `${num(s.pending_profiles)} profiles pending`) : null,
        ),
      );
      body.append(row);
      api(`/v1/segments/${encodeURIComponent(s.id)}/history`)
        .then((hist) => {
          if (seq !== listSeq) return;
          clear(spark).append(sparkline(hist, 160, 34));
        })
        .catch((err) => {
          clear(spark).append(h("span", { class: "muted small" }, "\u2014"));
          showError(`Could not load the history of ${s.name}`, err);
        });
    }
  }

  // ------------------------------------------------------------------ one segment

  const seg = { id: null, level: "person", seq: 0, cursor: null, q: "", before: null, count: 0 };

  function card(id, title, note, ...children) {
    return h(
      "section",
      { id, class: "card" },
      h("h2", null, title, note ? h("span", { class: "h-note" }, ` ${note}`) : null),
      ...children,
    );
  }

  function buildSegment() {
    const el = section("segment-view");
    if (el.dataset.built) return;
    el.dataset.built = "1";
    const search = h("input", {
      id: "members-q",
      type: "search",
      placeholder: "Name, email or company contains\u2026",
      spellcheck: "false",
      autocomplete: "off",
      "aria-label": "Search the members",
    });
    let timer = null;
    search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => loadMembers(true), 250);
    });
    search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        window.clearTimeout(timer);
        loadMembers(true);
      }
    });
    el.append(
      h("p", { class: "crumbs" }, h("a", { href: `${ROOT}/ui/segments` }, "\u2190 Segments")),
      h(
        "header",
        { class: "card" },
        h(
          "div",
          { class: "card-head" },
          h("h1", { id: "segment-title" }, "Loading\u2026"),
          h(
            "div",
            { class: "export-buttons" },
            h("button", { id: "export-csv", type: "button", onclick: () => exportMembers("csv") }, "Export CSV"),
            h("button", { id: "export-ndjson", type: "button", onclick: () => exportMembers("ndjson") }, "Export NDJSON"),
          ),
        ),
        h("p", { id: "segment-subtitle", class: "subtitle" }),
        h("p", { id: "export-status", class: "muted small", hidden: true }),
        h("dl", { id: "segment-facts", class: "facts" }),
      ),
      h(
        "div",
        { class: "grid" },
        card(
          "segment-definition-card",
          "Definition",
          "rule language (docs/segments.md)",
          h("pre", { id: "segment-rules", class: "rules" }),
          h("p", { id: "segment-consent", class: "muted small" }),
        ),
        card(
          "segment-history-card",
          "Size over time",
          "replayed from the change log",
          h("div", { id: "segment-history" }),
        ),
      ),
      card(
        "segment-members-card",
        "Members",
        "",
        h("div", { class: "members-tools" }, search),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "segment-members", class: "table" },
            h("thead", null, h("tr", { id: "segment-members-head" })),
            h("tbody", { id: "segment-members-body" }),
          ),
        ),
        h("p", { id: "segment-members-status", class: "muted" }, "Loading\u2026"),
        h("button", { id: "segment-members-more", type: "button", hidden: true, onclick: () => loadMembers(false) }, "Load more"),
      ),
      card(
        "segment-changes-card",
        "Entered and exited",
        "newest first",
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "segment-changes", class: "table" },
            h(
              "thead",
              null,
              h("tr", null, h("th", null, "When"), h("th", null, "Change"), h("th", null, "Member"), h("th", null, "Cause")),
            ),
            h("tbody", { id: "segment-changes-body" }),
          ),
        ),
        h("p", { id: "segment-changes-status", class: "muted" }, "Loading\u2026"),
        h("button", { id: "segment-changes-more", type: "button", hidden: true, onclick: () => loadChanges(false) }, "Load more"),
      ),
    );
  }

  async function showSegment(id) {
    buildSegment();
    const seq = ++seg.seq;
    seg.id = id;
    document.title = "Segment \u00b7 Kindred";
    setText(K.$("segment-title"), "Loading\u2026");
    for (const x of ["segment-subtitle", "segment-rules", "segment-consent"]) setText(K.$(x), "");
    for (const x of ["segment-facts", "segment-history", "segment-members-body", "segment-changes-body"]) {
      clear(K.$(x));
    }
    show(K.$("export-status"), false);
    K.$("members-q").value = "";
    let s;
    try {
      s = await api(`/v1/segments/${encodeURIComponent(id)}`);
    } catch (err) {
      if (seq !== seg.seq) return;
      setText(K.$("segment-title"), "Segment not available");
      setText(K.$("segment-members-status"), "");
      setText(K.$("segment-changes-status"), "");
      showError("Could not load the segment", err);
      return;
    }
    if (seq !== seg.seq) return;
    seg.level = s.level;
    seg.count = s.member_count;
    setText(K.$("segment-title"), s.name);
    document.title = `${s.name} \u00b7 Kindred`;
    setText(K.$("segment-subtitle"), s.description || "");
    const facts = K.$("segment-facts");
    const fact = (k, v, id2) => facts.append(h("div", null, h("dt", null, k), h("dd", id2 ? { id: id2 } : null, v)));
    fact("Size", num(s.member_count), "segment-size");
    fact("Level", String(s.level));
    fact("Computed", timeEl(s.computed_at, true));
    fact("Last incremental update", timeEl(s.incremental_at, true));
    fact(
      "Lag",
      h("span", { class: lagClass(s.lag_seconds), title: (s.freshness || {}).explanation || "" }, fmtLag(s.lag_seconds)),
    );
    fact("Refreshed", s.time_based || s.level === "account" ? "on events and on a schedule" : "on events");
    setText(K.$("segment-rules"), JSON.stringify(s.rules, null, 2));
    setText(K.$("segment-consent"), s.consent ? `Members must consent to ${s.consent}.` : "");
    renderMembersHead();
    loadHistory(seq);
    loadMembers(true);
    loadChanges(true);
  }

  async function loadHistory(seq) {
    const box = K.$("segment-history");
    try {
      const hist = await api(`/v1/segments/${encodeURIComponent(seg.id)}/history`);
      if (seq !== seg.seq) return;
      const pts = hist.points || [];
      box.append(sparkline(hist, 360, 90));
      box.append(
        h(
          "p",
          { class: "muted small" },
          pts.length
            ? `Since ${new Date(pts[0].at).toLocaleString()}: ${num(pts.reduce((n, p) => n + p.entered, 0))} entered, ${num(pts.reduce((n, p) => n + p.exited, 0))} exited (buckets of ${fmtLag(hist.bucket_seconds)}).`
            : "No changes logged yet.",
        ),
      );
    } catch (err) {
      if (seq !== seg.seq) return;
      box.append(h("p", { class: "muted" }, "History not available."));
      showError("Could not load the size history", err);
    }
  }

  function renderMembersHead() {
    const head = clear(K.$("segment-members-head"));
    const cols =
      seg.level === "account"
        ? ["Account", "Domain", "Industry", "Account score", "Entered"]
        : ["Person", "Email", "Company", "Lead score", "Temperature", "Entered"];
    for (const c of cols) head.append(h("th", c.endsWith("score") ? { class: "num" } : null, c));
  }

  async function loadMembers(reset) {
    const seq = seg.seq;
    const body = K.$("segment-members-body");
    const status = K.$("segment-members-status");
    if (reset) {
      seg.cursor = null;
      seg.q = K.$("members-q").value.trim();
    }
    const q = seg.q;
    setText(status, "Loading\u2026");
    let data;
    try {
      data = await api(`/v1/segments/${encodeURIComponent(seg.id)}/members`, {
        limit: MEMBERS_PAGE,
        cursor: seg.cursor,
        q,
        fields: seg.level === "account" ? ACCOUNT_FIELDS : MEMBER_FIELDS,
      });
    } catch (err) {
      if (seq !== seg.seq || q !== seg.q) return;
      setText(status, "Members not available.");
      showError("Could not load the members", err);
      return;
    }
    if (seq !== seg.seq || q !== seg.q) return;
    if (reset) clear(body);
    for (const m of data.items || []) {
      const f = m.fields || {};
      if (seg.level === "account") {
        body.append(
          h(
            "tr",
            null,
            h("td", null, h("a", { href: accountHref(m.account_id) }, String(f["account.name"] || shortId(m.account_id)))),
            h("td", null, fmtValue(f["account.domain"])),
            h("td", null, fmtValue(f.industry)),
            h("td", { class: "num" }, num(f["account_computed.account_score"])),
            h("td", null, timeEl(m.entered_at)),
          ),
        );
        continue;
      }
      const name =
        f.name || [f.first_name, f.last_name].filter((x) => !isBlank(x)).join(" ") || shortId(m.profile_id);
      const temp = f["computed.temperature.value"];
      body.append(
        h(
          "tr",
          null,
          h("td", null, h("a", { href: profileHref(m.profile_id), title: String(m.profile_id) }, String(name))),
          h("td", { class: "value" }, fmtValue(f.email)),
          h("td", null, fmtValue(f.company)),
          h("td", { class: "num" }, num(f["computed.lead_score.score"])),
          h("td", null, isBlank(temp) ? "\u2014" : h("span", { class: `badge temp temp-${String(temp)}` }, String(temp))),
          h("td", null, timeEl(m.entered_at)),
        ),
      );
    }
    seg.cursor = data.next_cursor || null;
    show(K.$("segment-members-more"), Boolean(seg.cursor));
    const n = body.children.length;
    if (q) setText(status, n ? `${n}${seg.cursor ? "+" : ""} member${n === 1 ? "" : "s"} matching \u201c${q}\u201d.` : `No member matches \u201c${q}\u201d.`);
    else setText(status, n ? `Showing ${n} of ${num(seg.count)}.` : "No members.");
  }

  async function loadChanges(reset) {
    const seq = seg.seq;
    const body = K.$("segment-changes-body");
    const status = K.$("segment-changes-status");
    if (reset) seg.before = null;
    setText(status, "Loading\u2026");
    let data;
    try {
      data = await api(`/v1/segments/${encodeURIComponent(seg.id)}/recent-changes`, {
        limit: CHANGES_PAGE,
        before: seg.before,
      });
    } catch (err) {
      if (seq !== seg.seq) return;
      setText(status, "Changes not available.");
      showError("Could not load the changes", err);
      return;
    }
    if (seq !== seg.seq) return;
    for (const c of data.items || []) {
      const who = c.name || c.email || shortId(c.member_id);
      const href = c.member_kind === "account" ? accountHref(c.member_id) : profileHref(c.member_id);
      body.append(
        h(
          "tr",
          null,
          h("td", null, timeEl(c.at, true)),
          h("td", null, h("span", { class: `change change-${c.change}` }, String(c.change))),
          h("td", null, h("a", { href, title: String(c.member_id) }, String(who))),
          h("td", { class: "small" }, fmtValue(c.cause)),
        ),
      );
    }
    seg.before = data.next_before || null;
    show(K.$("segment-changes-more"), Boolean(seg.before));
    const n = body.children.length;
    setText(status, n ? `${n} change${n === 1 ? "" : "s"} shown${seg.before ? "; older ones below" : ""}.` : "No changes logged yet.");
  }

  /** The stream needs the key in a header, which a plain link cannot send: fetch it, then
   * save it through a Blob URL. */
  async function exportMembers(fmt) {
    const status = K.$("export-status");
    const btn = K.$(`export-${fmt}`);
    btn.disabled = true;
    setText(status, `Preparing the ${fmt.toUpperCase()} export\u2026`);
    show(status, true);
    try {
      const fields = seg.level === "account" ? "account.name,account.domain" : "email,first_name,last_name";
      const url = new URL(`${ROOT}/v1/segments/${encodeURIComponent(seg.id)}/members`, window.location.origin);
      url.searchParams.set("format", fmt);
      url.searchParams.set("fields", fields);
      const resp = await fetch(url, {
        headers: {
          Authorization: `Bearer ${getKey()}`,
          Accept: fmt === "csv" ? "text/csv" : "application/x-ndjson",
        },
        credentials: "same-origin",
      });
      if (!resp.ok) {
        let message = `HTTP ${resp.status}`;
        try {
          const b = await resp.json();
          if (b && b.error && b.error.message) message = b.error.message;
        } catch (_e) {
          /* not JSON */
        }
        throw new K.ApiError(resp.status, `http_${resp.status}`, message);
      }
      const blob = await resp.blob();
      const href = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = href;
      a.download = `segment-${seg.id}.${fmt === "csv" ? "csv" : "ndjson"}`;
      a.click(); // not in the document: the console's link router never sees it
      window.setTimeout(() => URL.revokeObjectURL(href), 10000);
      setText(status, `Saved ${a.download} (${num(blob.size)} bytes).`);
    } catch (err) {
      setText(status, "The export failed.");
      showError("Could not export the members", err);
    } finally {
      btn.disabled = false;
    }
  }

  // ------------------------------------------------------------------ new segment

  function fieldRow(id, label, control, hint) {
    return h(
      "div",
      { class: "field", id: `${id}-row` },
      h("label", { for: id }, label),
      control,
      hint ? h("p", { class: "hint" }, hint) : null,
      h("ul", { id: `${id}-error`, class: "field-error", hidden: true, role: "alert" }),
    );
  }

  function buildNew() {
    const el = section("segment-new-view");
    if (el.dataset.built) return;
    el.dataset.built = "1";
    const level = h(
      "select",
      { id: "new-level" },
      h("option", { value: "person" }, "person"),
      h("option", { value: "account" }, "account"),
    );
    const consent = h(
      "select",
      { id: "new-consent" },
      h("option", { value: "" }, "no consent required"),
      h("option", { value: "email" }, "email"),
      h("option", { value: "sms" }, "sms"),
      h("option", { value: "ads" }, "ads"),
    );
    const rules = h("textarea", { id: "new-rules", rows: 10, spellcheck: "false", class: "rules-input" });
    rules.value = EXAMPLE_RULE;
    const form = h(
      "form",
      { id: "segment-form", class: "card", autocomplete: "off", novalidate: true },
      h("h1", null, "New segment"),
      h("p", { id: "segment-form-error", class: "form-error", hidden: true }),
      fieldRow("new-name", "Name", h("input", { id: "new-name", type: "text", maxlength: 300 })),
      fieldRow("new-description", "Description", h("input", { id: "new-description", type: "text" })),
      h(
        "div",
        { class: "field-pair" },
        fieldRow("new-level", "Level", level),
        fieldRow("new-consent", "Consent", consent, "Members must consent to this channel."),
      ),
      fieldRow(
        "new-rules",
        "Rule (JSON)",
        rules,
        "all / any / not of conditions on traits, computed traits, events and the account; see docs/segments.md.",
      ),
      h(
        "div",
        { class: "form-actions" },
        h("button", { id: "segment-create", type: "submit", class: "primary" }, "Create segment"),
        h("a", { href: `${ROOT}/ui/segments` }, "Cancel"),
      ),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      createSegment();
    });
    el.append(h("p", { class: "crumbs" }, h("a", { href: `${ROOT}/ui/segments` }, "\u2190 Segments")), form);
  }

  const FIELD_OF = { name: "new-name", description: "new-description", level: "new-level", consent: "new-consent" };

  function clearFieldErrors() {
    for (const id of ["new-name", "new-description", "new-level", "new-consent", "new-rules"]) {
      clear(K.$(`${id}-error`));
      show(K.$(`${id}-error`), false);
      K.$(id).removeAttribute("aria-invalid");
    }
    show(K.$("segment-form-error"), false);
  }

  function fieldError(id, text) {
    const ul = K.$(`${id}-error`);
    ul.append(h("li", null, text));
    show(ul, true);
    K.$(id).setAttribute("aria-invalid", "true");
  }

  async function createSegment() {
    clearFieldErrors();
    const name = K.$("new-name").value.trim();
    const raw = K.$("new-rules").value;
    let rules;
    let bad = false;
    if (!name) {
      fieldError("new-name", "Give the segment a name.");
      bad = true;
    }
    try {
      rules = JSON.parse(raw);
    } catch (err) {
      fieldError("new-rules", `Not JSON: ${err.message}`);
      bad = true;
    }
    if (bad) return;
    const body = {
      name,
      rules,
      level: K.$("new-level").value,
      description: K.$("new-description").value.trim() || null,
      consent: K.$("new-consent").value || null,
    };
    const btn = K.$("segment-create");
    btn.disabled = true;
    let created;
    try {
      created = await api("/v1/segments", null, { method: "POST", body });
    } catch (err) {
      btn.disabled = false;
      if (err.status === 401) return;
      const details = Array.isArray(err.details) ? err.details : [];
      let placed = 0;
      for (const d of details) {
        const path = String(d.path || d.loc || "").replace(/^body\.?/, "");
        const head = path.split(/[.[]/)[0];
        const message = String(d.message || d.msg || "");
        const target = head === "rules" || !head ? "new-rules" : FIELD_OF[head];
        if (!target) continue;
        fieldError(target, path && head !== path ? `${path}: ${message}` : message);
        placed += 1;
      }
      if (err.status === 409) {
        fieldError("new-name", err.message);
        placed += 1;
      }
      if (!placed) {
        const box = K.$("segment-form-error");
        setText(box, `${err.message}${err.code ? ` [${err.code}]` : ""}`);
        show(box, true);
      }
      return;
    }
    btn.disabled = false;
    navigate(segHref(created.id));
  }

  // ------------------------------------------------------------------ registration

  K.page({
    name: "segment-new",
    view: "segment-new-view",
    match: (path) => (path === "/ui/segments/new" ? {} : null),
    show: () => {
      buildNew();
      document.title = "New segment \u00b7 Kindred";
      clearFieldErrors();
      K.$("new-name").focus();
    },
  });

  K.page({
    name: "segment",
    view: "segment-view",
    match: (path) => {
      const m = path.match(/^\/ui\/segments\/([^/]+)$/);
      return m ? { id: K.decodeSegment(m[1]) } : null;
    },
    show: (params) => showSegment(params.id),
  });

  K.page({
    name: "segments",
    view: "segments-view",
    match: (path) => (path === "/ui/segments" ? {} : null),
    show: () => showList(),
  });

})();
