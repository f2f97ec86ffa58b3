/* Kindred console: where the data comes from and what was refused.
 *   /ui/sources   per-source accepted/rejected counters and the recent rejections with reasons
 *   /ui/dlq       dead letters not replayed yet, each with Replay (POST /v1/dlq/{id}/replay)
 *   /ui/keys      API keys with Revoke, after a confirmation (POST /v1/keys/{id}/revoke)
 * All three need a key with the admin scope. Every value from the API reaches the DOM as text.
 */
"use strict";

(() => {
  const K = window.Kindred;
  const { h, clear, setText, timeEl, humanize, showError, api, section } = K;
  const num = (n) => Number(n || 0).toLocaleString();
  const PAGES = [
    { view: "sources-view", path: "/ui/sources", label: "Sources" },
    { view: "dlq-view", path: "/ui/dlq", label: "Dead letters" },
    { view: "keys-view", path: "/ui/keys", label: "API keys" },
  ];
  let seq = 0;

  function subnav(current) {
    return h(
      "nav",
      { class: "subnav", "aria-label": "Sources, dead letters and keys" },
      PAGES.map((p) =>
        h(
          "a",
          {
            href: `${K.ROOT}${p.path}`,
            class: p.view === current ? "current" : null,
            "aria-current": p.view === current ? "page" : null,
            "data-view": p.view,
          },
          p.label,
        ),
      ),
    );
  }

  /** Start a page: its subnav and a status line; returns {view, status, mine}. */
  function start(viewId, title) {
    document.title = `${title} \u00b7 Kindred`;
    const view = section(viewId);
    delete view.dataset.ready;
    clear(view);
    const status = h("p", { class: "muted status" }, "Loading\u2026");
    view.append(subnav(viewId), status);
    return { view, status, mine: ++seq };
  }

  function adminProblem(status, err) {
    if (err && err.status === 403) {
      setText(status, "This page needs a key with the admin scope (Change key, top right).");
      return;
    }
    setText(status, "Not available.");
  }

  function table(id, headers, rows) {
    return h(
      "table",
      { id, class: "table" },
      h("thead", null, h("tr", null, headers.map(([label, cls]) => h("th", { class: cls || null }, label)))),
      h("tbody", null, rows),
    );
  }

  function reasonCell(reason) {
    return h("td", { class: "reason" }, reason);
  }

  function payloadCell(payload) {
    const text = String(payload || "");
    return h(
      "td",
      { class: "payload" },
      h("code", { title: text }, text.length > 120 ? `${text.slice(0, 120)}\u2026` : text),
    );
  }

  // ------------------------------------------------------------------ sources

  async function showSources() {
    const { view, status, mine } = start("sources-view", "Sources");
    let sources;
    let letters;
    try {
      [sources, letters] = await Promise.all([
        api("/v1/sources"),
        api("/v1/dlq", { replayed: "true", limit: 25 }),
      ]);
    } catch (err) {
      if (mine !== seq) return;
      adminProblem(status, err);
      showError("Could not load the sources", err);
      return;
    }
    if (mine !== seq) return;
    const accepted = sources.reduce((n, x) => n + x.accepted, 0);
    const rejected = sources.reduce((n, x) => n + x.rejected, 0);
    setText(status, `${sources.length} sources \u00b7 ${num(accepted)} events accepted \u00b7 ${num(rejected)} rejected`);
    const max = Math.max(1, ...sources.map((x) => x.accepted + x.rejected));
    const rows = sources.map((x) => {
      const total = x.accepted + x.rejected;
      const bar = h("span", { class: "meter", title: `${num(x.accepted)} accepted, ${num(x.rejected)} rejected` });
      const ok = h("span", { class: "meter-ok" });
      const bad = h("span", { class: "meter-bad" });
      ok.style.width = `${(100 * x.accepted) / max}%`;
      bad.style.width = `${(100 * x.rejected) / max}%`;
      bar.append(ok, bad);
      return h(
        "tr",
        { "data-source": x.name },
        h("th", { scope: "row" }, x.name),
        h("td", null, h("span", { class: "chip" }, x.connector)),
        h("td", { class: "num accepted" }, num(x.accepted)),
        h("td", { class: "num rejected" }, num(x.rejected)),
        h("td", { class: "num" }, total ? `${((100 * x.rejected) / total).toFixed(1)}%` : "\u2014"),
        h("td", { class: "meter-cell" }, bar),
        h("td", null, timeEl(x.created_at, false)),
      );
    });
    view.append(
      h(
        "section",
        { id: "sources-card", class: "card" },
        h("h2", null, "Sources", h("span", { class: "h-note" }, "accepted: stored by the ingest worker; rejected: refused at the door")),
        table(
          "sources-table",
          [["Source"], ["Connector"], ["Accepted", "num"], ["Rejected", "num"], ["Rejected %", "num"], [""], ["Created"]],
          rows,
        ),
      ),
    );
    const letterRows = letters.map((l) =>
      h(
        "tr",
        { "data-letter": l.id },
        h("td", null, timeEl(l.created_at, true)),
        h("td", null, l.source || "\u2014"),
        h("td", null, h("span", { class: "kind" }, l.origin)),
        reasonCell(l.reason),
        payloadCell(l.payload),
        h("td", null, l.replayed_at ? h("span", { class: "flag yes" }, "replayed") : h("span", { class: "flag no" }, "pending")),
      ),
    );
    view.append(
      h(
        "section",
        { id: "rejections-card", class: "card" },
        h(
          "div",
          { class: "card-head" },
          h("h2", null, "Recent rejections", h("span", { class: "h-note" }, "newest first, with the reason")),
          h("a", { href: `${K.ROOT}/ui/dlq` }, "Replay dead letters \u2192"),
        ),
        letters.length
          ? table("rejections-table", [["When"], ["Source"], ["What"], ["Reason"], ["Received"], ["State"]], letterRows)
          : h("p", { id: "rejections-empty", class: "muted" }, "Nothing rejected."),
      ),
    );
    view.dataset.ready = "true";
  }

  // ------------------------------------------------------------------ dead letters

  async function showDlq(query) {
    const withReplayed = query.get("replayed") === "true";
    const { view, status, mine } = start("dlq-view", "Dead letters");
    let letters;
    try {
      letters = await api("/v1/dlq", { replayed: withReplayed ? "true" : "", limit: 200 });
    } catch (err) {
      if (mine !== seq) return;
      adminProblem(status, err);
      showError("Could not load the dead letters", err);
      return;
    }
    if (mine !== seq) return;
    const pending = letters.filter((l) => !l.replayed_at).length;
    setText(status, `${num(pending)} dead letters waiting for a replay${withReplayed ? ` (${num(letters.length - pending)} replayed shown too)` : ""}`);
    const toggle = h(
      "a",
      { href: `${K.ROOT}/ui/dlq${withReplayed ? "" : "?replayed=true"}`, id: "dlq-toggle" },
      withReplayed ? "Hide replayed" : "Show replayed too",
    );
    const outcome = h("p", { id: "dlq-outcome", class: "notice", hidden: true, "aria-live": "polite" });
    const rows = letters.map((l) => {
      const stateCell = h("td", { class: "state" });
      const button = h("button", { type: "button", class: "replay", "data-letter": l.id }, "Replay");
      if (l.replayed_at) {
        stateCell.append(h("span", { class: "flag yes" }, "replayed "), timeEl(l.replayed_at, false));
      } else {
        stateCell.append(button);
      }
      button.addEventListener("click", () => replay(l, button, stateCell, outcome));
      return h(
        "tr",
        { "data-letter": l.id },
        h("td", null, h("code", null, String(l.id))),
        h("td", null, timeEl(l.created_at, true)),
        h("td", null, l.source || "\u2014", l.connector ? h("div", { class: "muted small" }, l.connector) : null),
        h("td", null, h("span", { class: "kind" }, l.origin)),
        reasonCell(l.reason),
        payloadCell(l.payload),
        stateCell,
      );
    });
    view.append(
      h(
        "section",
        { id: "dlq-card", class: "card" },
        h(
          "div",
          { class: "card-head" },
          h("h2", null, "Dead letters", h("span", { class: "h-note" }, "replay once the cause is fixed: what is valid now is published again")),
          toggle,
        ),
        outcome,
        letters.length
          ? table("dlq-table", [["Id"], ["When"], ["Source"], ["What"], ["Reason"], ["Received"], [""]], rows)
          : h("p", { id: "dlq-empty", class: "muted" }, "No dead letters."),
      ),
    );
    view.dataset.ready = "true";
  }

  async function replay(letter, button, cell, outcome) {
    button.disabled = true;
    setText(button, "Replaying\u2026");
    let out;
    try {
      out = await api(`/v1/dlq/${encodeURIComponent(letter.id)}/replay`, null, { method: "POST" });
    } catch (err) {
      button.disabled = false;
      setText(button, "Replay");
      showError(`Could not replay dead letter ${letter.id}`, err);
      return;
    }
    outcome.hidden = false;
    if (out.replayed) {
      clear(cell);
      cell.append(h("span", { class: "flag yes" }, "replayed"));
      setText(outcome, `Dead letter ${letter.id} replayed: ${out.events_published} event(s) published.`);
    } else {
      button.disabled = false;
      setText(button, "Replay");
      const why = out.still_invalid.length ? out.still_invalid[0].reason : "nothing to publish";
      setText(outcome, `Dead letter ${letter.id} is still invalid: ${why}`);
    }
  }

  // ------------------------------------------------------------------ keys

  async function showKeys() {
    const { view, status, mine } = start("keys-view", "API keys");
    let keys;
    try {
      keys = await api("/v1/keys");
    } catch (err) {
      if (mine !== seq) return;
      adminProblem(status, err);
      showError("Could not load the API keys", err);
      return;
    }
    if (mine !== seq) return;
    keyStatus = status;
    const rows = keys.map((k) => keyRow(k));
    view.append(
      h(
        "section",
        { id: "keys-card", class: "card" },
        h("h2", null, "API keys", h("span", { class: "h-note" }, "create and rotate with `kindred keys` or POST /v1/keys")),
        table(
          "keys-table",
          [["Name"], ["Prefix"], ["Scopes"], ["State"], ["Created"], ["Last used"], ["Expires"], [""]],
          rows,
        ),
      ),
    );
    countKeys();
    view.dataset.ready = "true";
  }

  let keyStatus = null;

  /** The status line of the keys page, from the rows shown (kept right after a revoke). */
  function countKeys() {
    const rows = document.querySelectorAll("#keys-table tbody tr");
    const active = document.querySelectorAll("#keys-table tbody .key-active").length;
    if (keyStatus) {
      setText(keyStatus, `${rows.length} keys, ${active} active. A key is identified by its prefix; secrets are never shown.`);
    }
  }

  function keyRow(k) {
    const action = h("td", { class: "action" });
    const row = h(
      "tr",
      { "data-key": k.id, "data-prefix": k.prefix },
      h("th", { scope: "row" }, k.name),
      h("td", null, h("code", null, k.prefix)),
      h("td", null, k.scopes.map((sc) => h("span", { class: "chip" }, sc))),
      h("td", { class: "state" }, h("span", { class: `key-state key-${k.state}` }, humanize(k.state))),
      h("td", null, timeEl(k.created_at, false)),
      h("td", null, k.last_used_at ? timeEl(k.last_used_at, true) : h("span", { class: "muted" }, "never")),
      h("td", null, k.expires_at ? timeEl(k.expires_at, false) : h("span", { class: "muted" }, "\u2014")),
      action,
    );
    if (k.state !== "revoked") {
      const revoke = h("button", { type: "button", class: "revoke danger" }, "Revoke\u2026");
      revoke.addEventListener("click", () => confirmRevoke(k, row, action));
      action.append(revoke);
    }
    return row;
  }

  function confirmRevoke(k, row, action) {
    clear(action);
    const yes = h("button", { type: "button", class: "confirm-revoke danger" }, "Yes, revoke");
    const no = h("button", { type: "button", class: "cancel-revoke" }, "Cancel");
    const box = h(
      "div",
      { class: "confirm", role: "group", "aria-label": "Confirm revocation" },
      h("span", null, `Revoke \u201c${k.name}\u201d (${k.prefix})? Requests with it fail at once.`),
      yes,
      no,
    );
    action.append(box);
    no.addEventListener("click", () => row.replaceWith(keyRow(k)));
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      no.disabled = true;
      let out;
      try {
        out = await api(`/v1/keys/${encodeURIComponent(k.id)}/revoke`, null, { method: "POST" });
      } catch (err) {
        showError(`Could not revoke key ${k.prefix}`, err);
        row.replaceWith(keyRow(k));
        return;
      }
      row.replaceWith(keyRow(out));
      countKeys();
    });
    yes.focus();
  }

  // ------------------------------------------------------------------ pages

  const exact = (p) => (path) => (path === p ? {} : null);
  K.page({ name: "sources", view: "sources-view", match: exact("/ui/sources"), show: () => showSources() });
  K.page({ name: "dlq", view: "dlq-view", match: exact("/ui/dlq"), show: (_p, q) => showDlq(q) });
  K.page({ name: "keys", view: "keys-view", match: exact("/ui/keys"), show: () => showKeys() });
})();
