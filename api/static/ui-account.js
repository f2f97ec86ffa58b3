/* Kindred console: accounts (B2B companies).
 *
 *   /ui/accounts        every account, best account score first   (view accounts-view)
 *   /ui/accounts/{id}   one account: company traits, rollups, contacts with their roles and
 *                       engagement, the journey of its people newest first  (view account-view)
 *
 * Registers itself with window.Kindred (ui.js). Every value from the API reaches the DOM as
 * text, never as HTML.
 */
"use strict";

(() => {
  const K = window.Kindred;
  const { h, clear, show, setText, timeEl, isBlank, fmtValue, humanize, shortId } = K;
  const { profileHref, channelBadge, showError, api, section, ROOT } = K;
  const LIST_PAGE = 50;
  const JOURNEY_PAGE = 30;
  const TRAIT_ORDER = ["name", "domain", "industry", "employees", "size", "annual_revenue", "country", "city", "plan"];

  const accountHref = (id) => `${ROOT}/ui/accounts/${encodeURIComponent(id)}`;

  function pct(v) {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return "\u2014";
    return `${(Number(v) * 100).toFixed(Number(v) < 0.01 && Number(v) > 0 ? 2 : 1)} %`;
  }

  function num(v) {
    if (isBlank(v)) return "\u2014";
    const n = Number(v);
    return Number.isNaN(n) ? String(v) : n.toLocaleString();
  }

  function keyBadge(flag) {
    return flag
      ? h("span", { class: "badge key-account", title: "one of the accounts making up most revenue" }, "key account")
      : h("span", { class: "muted" }, "\u2014");
  }

  function tempBadge(t) {
    if (isBlank(t)) return h("span", { class: "muted" }, "\u2014");
    return h("span", { class: `badge temp temp-${String(t)}` }, String(t));
  }

  // ------------------------------------------------------------------ list

  const list = { cursor: null, seq: 0 };

  function buildList() {
    const el = section("accounts-view");
    if (el.dataset.built) return;
    el.dataset.built = "1";
    el.append(
      h("p", { class: "crumbs" }, h("a", { href: `${ROOT}/ui/` }, "\u2190 Search")),
      h(
        "div",
        { class: "card" },
        h("h1", null, "Accounts ", h("span", { class: "h-note" }, "best account score first")),
        h("p", { id: "accounts-summary", class: "muted" }, "Loading\u2026"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "accounts-table", class: "table hover" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", null, "Company"),
                h("th", null, "Industry"),
                h("th", null, "Country"),
                h("th", { class: "num" }, "Contacts"),
                h("th", { class: "num" }, "Engaged"),
                h("th", { class: "num" }, "Account score"),
                h("th", { class: "num" }, "Revenue share"),
                h("th", null, "Key account"),
              ),
            ),
            h("tbody", { id: "accounts-body" }),
          ),
        ),
        h("button", { id: "accounts-more", type: "button", hidden: true, onclick: () => loadAccounts(false) }, "Load more"),
      ),
    );
  }

  async function loadAccounts(reset) {
    const seq = reset ? ++list.seq : list.seq;
    const body = K.$("accounts-body");
    if (reset) {
      clear(body);
      list.cursor = null;
    }
    let data;
    try {
      data = await api("/v1/accounts", { limit: LIST_PAGE, cursor: list.cursor });
    } catch (err) {
      setText(K.$("accounts-summary"), "Accounts not available.");
      showError("Could not load the accounts", err);
      return;
    }
    if (seq !== list.seq) return;
    for (const a of data.items || []) {
      body.append(
        h(
          "tr",
          null,
          h(
            "td",
            null,
            h("a", { href: accountHref(a.id) }, a.name || a.domain || "Unnamed company"),
            a.domain ? h("div", { class: "muted small" }, String(a.domain)) : null,
          ),
          h("td", null, fmtValue(a.industry)),
          h("td", null, fmtValue(a.country)),
          h("td", { class: "num" }, num(a.contacts)),
          h("td", { class: "num" }, num(a.engaged_contacts)),
          h("td", { class: "num" }, num(a.account_score)),
          h("td", { class: "num" }, pct(a.revenue_share)),
          h("td", null, keyBadge(a.key_account)),
        ),
      );
    }
    list.cursor = data.next_cursor || null;
    show(K.$("accounts-more"), Boolean(list.cursor));
    setText(K.$("accounts-summary"), `${num(data.total)} accounts; showing ${body.children.length}.`);
  }

  // ------------------------------------------------------------------ one account

  const acc = { id: null, cursor: null, seq: 0 };

  function card(id, title, note, ...children) {
    return h(
      "section",
      { id, class: "card" },
      h("h2", null, title, note ? h("span", { class: "h-note" }, ` ${note}`) : null),
      ...children,
    );
  }

  function buildAccount() {
    const el = section("account-view");
    if (el.dataset.built) return;
    el.dataset.built = "1";
    el.append(
      h(
        "p",
        { class: "crumbs" },
        h("a", { href: `${ROOT}/ui/accounts` }, "\u2190 Accounts"),
      ),
      h("div", { id: "account-merged", class: "notice", hidden: true }),
      h(
        "header",
        { class: "card account-header" },
        h("h1", { id: "account-title" }, "Loading\u2026"),
        h("p", { id: "account-subtitle", class: "subtitle" }),
        h("dl", { id: "account-facts", class: "facts" }),
      ),
      h(
        "div",
        { class: "grid" },
        card("account-traits-card", "Company", "traits", h("dl", { id: "account-traits", class: "kv" })),
        card("account-rollup-card", "Rollups", "account score, revenue, key account", h("div", { id: "account-rollup" })),
      ),
      card(
        "account-contacts-card",
        "Contacts",
        "roles and engagement, best lead score first",
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { id: "account-contacts", class: "table" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", null, "Person"),
                h("th", null, "Job title"),
                h("th", null, "Decision maker"),
                h("th", { class: "num" }, "Lead score"),
                h("th", null, "Temperature"),
                h("th", null, "Lifecycle"),
                h("th", null, "Last seen"),
                h("th", null, "Linked by"),
              ),
            ),
            h("tbody", { id: "account-contacts-body" }),
          ),
        ),
        h("p", { id: "account-contacts-status", class: "muted" }, "Loading\u2026"),
      ),
      card(
        "account-journey-card",
        "Journey",
        "touchpoints of its people, newest first",
        h("ol", { id: "account-journey", class: "timeline" }),
        h("p", { id: "account-journey-status", class: "muted" }, "Loading\u2026"),
        h("button", { id: "account-journey-more", type: "button", hidden: true, onclick: () => loadJourney(false) }, "Load more"),
      ),
    );
  }

  async function showAccount(id) {
    buildAccount();
    acc.id = id;
    const seq = ++acc.seq;
    document.title = "Account \u00b7 Kindred";
    setText(K.$("account-title"), "Loading\u2026");
    setText(K.$("account-subtitle"), "");
    show(K.$("account-merged"), false);
    for (const x of ["account-facts", "account-traits", "account-rollup", "account-contacts-body", "account-journey"]) {
      clear(K.$(x));
    }
    show(K.$("account-journey-more"), false);
    let a;
    try {
      a = await api(`/v1/accounts/${encodeURIComponent(id)}`);
    } catch (err) {
      if (seq !== acc.seq) return;
      setText(K.$("account-title"), "Account not available");
      setText(K.$("account-contacts-status"), "");
      setText(K.$("account-journey-status"), "");
      showError("Could not load the account", err);
      return;
    }
    if (seq !== acc.seq) return;
    acc.id = a.id;
    renderHeader(a);
    renderTraits(a);
    renderRollup(a.rollup, a.rollup_computed_at);
    loadContacts(a.id, seq);
    loadJourney(true);
  }

  function renderHeader(a) {
    const t = a.traits || {};
    const name = a.name || t.name || a.domain || "Unnamed company";
    setText(K.$("account-title"), name);
    document.title = `${name} \u00b7 Kindred`;
    setText(
      K.$("account-subtitle"),
      [a.domain || t.domain, t.industry, t.country].filter((x) => !isBlank(x)).join(" \u00b7 "),
    );
    const facts = K.$("account-facts");
    const fact = (k, v) => facts.append(h("div", null, h("dt", null, k), h("dd", null, v)));
    fact("Account id", h("code", null, String(a.id)));
    fact("People", num(a.profiles));
    fact("Created", timeEl(a.created_at));
    fact("Updated", timeEl(a.updated_at, true));
    if (a.merged) {
      const n = clear(K.$("account-merged"));
      n.append(
        "You asked for ",
        h("code", null, String(a.requested_id)),
        ", which was merged into this account.",
      );
      show(n, true);
    }
  }

  function rank(name) {
    const i = TRAIT_ORDER.indexOf(name);
    return i === -1 ? TRAIT_ORDER.length : i;
  }

  function renderTraits(a) {
    const traits = { ...(a.traits || {}) };
    if (isBlank(traits.name) && !isBlank(a.name)) traits.name = a.name;
    if (isBlank(traits.domain) && !isBlank(a.domain)) traits.domain = a.domain;
    const dl = K.$("account-traits");
    const names = Object.keys(traits).sort((x, y) => rank(x) - rank(y) || x.localeCompare(y));
    for (const k of names) {
      const v = traits[k];
      dl.append(h("div", null, h("dt", null, humanize(k)), h("dd", { class: "value" }, typeof v === "number" ? num(v) : fmtValue(v))));
    }
    if (!names.length) dl.append(h("p", { class: "muted" }, "No traits recorded."));
    if (Array.isArray(a.keys) && a.keys.length) {
      dl.append(
        h(
          "div",
          null,
          h("dt", null, "Known as"),
          h("dd", null, ...a.keys.map((k) => h("code", { class: "chip" }, String(k)))),
        ),
      );
    }
  }

  function renderRollup(r, at) {
    const box = K.$("account-rollup");
    if (!r) {
      box.append(h("p", { class: "muted" }, "Not rolled up yet: the profiles worker computes rollups on a schedule."));
      return;
    }
    box.append(
      h(
        "div",
        { class: "rollup-tiles" },
        h("div", { class: "tile", id: "rollup-score" }, h("div", { class: "tile-value" }, num(r.account_score)), h("div", { class: "tile-label" }, "Account score")),
        h("div", { class: "tile", id: "rollup-share" }, h("div", { class: "tile-value" }, pct(r.revenue_share)), h("div", { class: "tile-label" }, "of all revenue")),
        h(
          "div",
          { class: "tile", id: "rollup-key" },
          h("div", { class: "tile-value" }, r.key_account ? "Yes" : "No"),
          h("div", { class: "tile-label" }, "Key account"),
        ),
      ),
    );
    const reasons = r.reasons || {};
    const dl = h("dl", { class: "kv" });
    const add = (k, v) => dl.append(h("div", null, h("dt", null, k), h("dd", null, v)));
    add("Revenue", num(r.revenue));
    add("Contacts", `${num(r.engaged_contacts)} engaged of ${num(r.contacts)}`);
    add("Customers (hot)", num(r.customers));
    add("Best contact score", num(reasons.best_contact_score));
    add("Average contact score", num(reasons.average_contact_score));
    if (reasons.formula) add("Score formula", String(reasons.formula));
    if (reasons.key_account_rule) add("Key account rule", String(reasons.key_account_rule));
    add("Rolled up", timeEl(at, true));
    box.append(dl);
  }

  async function loadContacts(id, seq) {
    const body = K.$("account-contacts-body");
    const status = K.$("account-contacts-status");
    setText(status, "Loading\u2026");
    const people = [];
    let after = null;
    try {
      for (let i = 0; i < 20; i += 1) {
        const data = await api(`/v1/accounts/${encodeURIComponent(id)}/profiles`, { limit: 500, after });
        people.push(...(data.items || []));
        after = data.next_after;
        if (!after) break;
      }
    } catch (err) {
      if (seq !== acc.seq) return;
      setText(status, "Contacts not available.");
      showError("Could not load the contacts", err);
      return;
    }
    if (seq !== acc.seq) return;
    people.sort((x, y) => (Number(y.lead_score) || -1) - (Number(x.lead_score) || -1));
    for (const p of people) {
      const name = p.name || [p.first_name, p.last_name].filter((x) => !isBlank(x)).join(" ") || p.email || shortId(p.profile_id);
      body.append(
        h(
          "tr",
          null,
          h(
            "td",
            null,
            h("a", { href: profileHref(p.profile_id), class: "contact-link" }, String(name)),
            p.email && p.email !== name ? h("div", { class: "muted small" }, String(p.email)) : null,
          ),
          h("td", { class: "title" }, fmtValue(p.job_title)),
          h("td", null, p.decision_maker ? h("span", { class: "flag yes" }, "decision maker") : h("span", { class: "muted" }, "\u2014")),
          h("td", { class: "num" }, num(p.lead_score)),
          h("td", null, tempBadge(p.temperature)),
          h("td", null, isBlank(p.lifecycle_stage) ? "\u2014" : humanize(p.lifecycle_stage)),
          h("td", null, timeEl(p.last_seen, true)),
          h(
            "td",
            { class: "small" },
            humanize(p.rule),
            h("span", { class: "muted" }, ` (${Math.round(Number(p.confidence || 0) * 100)} %)`),
          ),
        ),
      );
    }
    const deciders = people.filter((p) => p.decision_maker).length;
    setText(
      status,
      people.length
        ? `${people.length} people, ${deciders} decision maker${deciders === 1 ? "" : "s"}.`
        : "No people linked to this account yet.",
    );
  }

  async function loadJourney(reset) {
    const seq = acc.seq;
    const listEl = K.$("account-journey");
    const status = K.$("account-journey-status");
    if (reset) acc.cursor = null;
    setText(status, "Loading\u2026");
    let data;
    try {
      data = await api(`/v1/accounts/${encodeURIComponent(acc.id)}/journey`, { limit: JOURNEY_PAGE, cursor: acc.cursor });
    } catch (err) {
      if (seq !== acc.seq) return;
      setText(status, "Journey not available.");
      showError("Could not load the journey", err);
      return;
    }
    if (seq !== acc.seq) return;
    for (const t of data.items || []) {
      const who = t.profile_name || t.profile_email || shortId(t.profile_id);
      listEl.append(
        h(
          "li",
          { class: "tp" },
          h("div", { class: "tp-time" }, timeEl(t.occurred_at, true)),
          h("div", null, channelBadge(t.channel)),
          h(
            "div",
            { class: "tp-body" },
            h("div", null, h("strong", null, String(t.event || t.type || "")), " ", h("span", { class: "muted small" }, `${t.type || ""} \u00b7 ${t.source || ""}`)),
            h("div", { class: "small" }, h("a", { href: profileHref(t.profile_id) }, String(who))),
          ),
        ),
      );
    }
    acc.cursor = data.next_cursor || null;
    show(K.$("account-journey-more"), Boolean(acc.cursor));
    const n = listEl.children.length;
    setText(status, n ? `${n} touchpoint${n === 1 ? "" : "s"} shown${acc.cursor ? "; more below" : ""}.` : "No touchpoints yet.");
  }

  // ------------------------------------------------------------------ registration

  K.page({
    name: "account",
    view: "account-view",
    match: (path) => {
      const m = path.match(/^\/ui\/accounts\/([^/]+)$/);
      return m ? { id: K.decodeSegment(m[1]) } : null;
    },
    show: (params) => showAccount(params.id),
  });

  K.page({
    name: "accounts",
    view: "accounts-view",
    match: (path) => (path === "/ui/accounts" ? {} : null),
    show: () => {
      buildList();
      document.title = "Accounts \u00b7 Kindred";
      setText(K.$("accounts-summary"), "Loading\u2026");
      loadAccounts(true);
    },
  });
})();
