/* Kindred ops console: vanilla JS over the /v1 read API.
 *
 * Routes (read from the URL, same page for both):
 *   /ui/?q=TYPE:VALUE        search by identifier
 *   /ui/profiles/{id}        one profile: golden record, identities, explanation, journey
 *
 * Every value from the API reaches the DOM as text (textContent, text nodes, setAttribute);
 * nothing from the API is ever parsed as HTML.
 */
"use strict";

(() => {
  const rootMeta = document.querySelector('meta[name="kindred-root"]');
  const ROOT = ((rootMeta && rootMeta.getAttribute("content")) || "").replace(/\/+$/, "");
  const KEY_STORAGE = "kindred.apiKey";
  const IDENTIFIER_TYPES = ["email", "phone", "user_id", "anonymous_id", "crm_contact_id"];
  const KNOWN_CHANNELS = ["web", "email", "crm", "ads", "support"];
  const JOURNEY_PAGE = 50;
  const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
  const TRAIT_ORDER = [
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "company",
    "country",
    "city",
  ];
  const RULE_LABELS = {
    shared_identifier: "Shared identifier",
    new_record: "Started the profile",
  };
  const CAMPAIGN_LABELS = {
    name: "utm_campaign",
    source: "utm_source",
    medium: "utm_medium",
    term: "utm_term",
    content: "utm_content",
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ DOM helpers

  /** Build an element. props: class, text, on<event>, or attributes; children: nodes/strings. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = String(value);
      else if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
    appendAll(el, children);
    return el;
  }

  function appendAll(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false || child === "") continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function show(el, visible) {
    el.hidden = !visible;
  }

  function setText(el, text) {
    el.textContent = text === null || text === undefined ? "" : String(text);
  }

  // ------------------------------------------------------------------ formatting

  const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const relFmt =
    typeof Intl.RelativeTimeFormat === "function"
      ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
      : null;

  function parseDate(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function relative(d) {
    if (!relFmt) return "";
    const seconds = (d.getTime() - Date.now()) / 1000;
    const steps = [
      [60, "second"],
      [3600, "minute"],
      [86400, "hour"],
      [86400 * 30, "day"],
      [86400 * 365, "month"],
      [Infinity, "year"],
    ];
    const divisors = {
      second: 1,
      minute: 60,
      hour: 3600,
      day: 86400,
      month: 86400 * 30,
      year: 86400 * 365,
    };
    for (const [limit, unit] of steps) {
      if (Math.abs(seconds) < limit)
        return relFmt.format(Math.round(seconds / divisors[unit]), unit);
    }
    return "";
  }

  /** A <time> element with the local time, the ISO value on hover, optionally "3 days ago". */
  function timeEl(iso, withRelative) {
    const d = parseDate(iso);
    if (!d) return h("span", { class: "muted" }, iso ? String(iso) : "\u2014");
    const el = h("time", { datetime: String(iso), title: String(iso) }, dateFmt.format(d));
    if (!withRelative) return el;
    const rel = relative(d);
    return rel ? h("span", null, el, " ", h("span", { class: "muted small" }, `(${rel})`)) : el;
  }

  function isBlank(v) {
    return v === null || v === undefined || v === "";
  }

  function fmtValue(v) {
    if (isBlank(v)) return "\u2014";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function humanize(code) {
    const s = String(code || "")
      .replace(/_/g, " ")
      .trim();
    return s ? s.charAt(0).toUpperCase() + s.slice(1) : "";
  }

  function displayName(traits) {
    const t = traits || {};
    if (!isBlank(t.name)) return String(t.name);
    const full = [t.first_name, t.last_name].filter((x) => !isBlank(x)).join(" ");
    return full;
  }

  function companyOf(profile) {
    const t = profile.traits || {};
    if (!isBlank(t.company)) return String(t.company);
    return profile.account && !isBlank(profile.account.name) ? String(profile.account.name) : "";
  }

  function profileHref(id) {
    return `${ROOT}/ui/profiles/${encodeURIComponent(id)}`;
  }

  function shortId(id) {
    const s = String(id || "");
    return s.length > 13 ? `${s.slice(0, 8)}\u2026` : s;
  }

  function profileLink(id, currentId) {
    if (isBlank(id)) return h("span", { class: "muted" }, "\u2014");
    if (currentId && String(id) === String(currentId)) {
      return h("span", { class: "this-profile", title: String(id) }, "this profile");
    }
    return h("a", { href: profileHref(id), title: String(id) }, h("code", null, shortId(id)));
  }

  function channelBadge(channel) {
    const c = String(channel || "other");
    const known = KNOWN_CHANNELS.includes(c) ? c : "other";
    return h("span", { class: `badge ch-${known}` }, c);
  }

  // ------------------------------------------------------------------ banner

  const bannerLines = new Set();

  function showError(context, err) {
    if (err && err.status === 401) return; // handled: back to the key prompt
    const code = err && err.code ? ` [${err.code}]` : "";
    const message = err && err.message ? err.message : String(err);
    const line = `${context}: ${message}${code}`;
    if (bannerLines.has(line)) return;
    bannerLines.add(line);
    $("banner-messages").append(h("li", null, line));
    show($("banner"), true);
  }

  function clearBanner() {
    bannerLines.clear();
    clear($("banner-messages"));
    show($("banner"), false);
  }

  // ------------------------------------------------------------------ API key + client

  let memoryKey = "";

  function getKey() {
    try {
      return window.localStorage.getItem(KEY_STORAGE) || "";
    } catch (_err) {
      return memoryKey;
    }
  }

  function setKey(value) {
    memoryKey = value;
    try {
      if (value) window.localStorage.setItem(KEY_STORAGE, value);
      else window.localStorage.removeItem(KEY_STORAGE);
    } catch (_err) {
      /* storage disabled: keep the key for this page only */
    }
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, params) {
    const url = new URL(ROOT + path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (!isBlank(v)) url.searchParams.set(k, String(v));
    }
    let resp;
    try {
      resp = await fetch(url, {
        headers: { Authorization: `Bearer ${getKey()}`, Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (err) {
      throw new ApiError(0, "network_error", `could not reach the API (${err.message || err})`);
    }
    let body = null;
    try {
      const text = await resp.text();
      body = text ? JSON.parse(text) : null;
    } catch (_err) {
      body = null;
    }
    if (!resp.ok) {
      const e = body && typeof body === "object" && body.error ? body.error : {};
      const err = new ApiError(
        resp.status,
        e.code || `http_${resp.status}`,
        e.message || `HTTP ${resp.status} ${resp.statusText || ""}`.trim(),
      );
      if (resp.status === 401) askForKey(`The API rejected the key: ${err.message}`);
      throw err;
    }
    if (body === null || typeof body !== "object") {
      throw new ApiError(
        resp.status,
        "bad_response",
        "the API answered with something that is not JSON",
      );
    }
    return body;
  }

  // ------------------------------------------------------------------ views + routing

  const VIEWS = ["key-view", "search-view", "profile-view"];

  function showView(id) {
    for (const v of VIEWS) show($(v), v === id);
    const keyed = id !== "key-view";
    show($("change-key"), keyed);
    show($("nav-search"), id === "profile-view");
  }

  function currentRoute() {
    let path = window.location.pathname;
    if (ROOT && path.startsWith(ROOT)) path = path.slice(ROOT.length);
    const m = path.match(/^\/ui\/profiles\/([^/]+)\/?$/);
    if (m) {
      let id = m[1];
      try {
        id = decodeURIComponent(id);
      } catch (_err) {
        /* keep it raw; the API will say what is wrong with it */
      }
      return { view: "profile", id };
    }
    return { view: "search", q: new URLSearchParams(window.location.search).get("q") || "" };
  }

  function route() {
    clearBanner();
    if (!getKey()) {
      askForKey("");
      return;
    }
    const r = currentRoute();
    if (r.view === "profile") showProfile(r.id);
    else showSearch(r.q);
  }

  // ------------------------------------------------------------------ key prompt

  function askForKey(message) {
    const err = $("key-error");
    setText(err, message);
    show(err, Boolean(message));
    if (message) setKey(""); // a rejected key is of no use; forget it
    show($("key-cancel"), Boolean(getKey()));
    $("key-input").value = "";
    showView("key-view");
    $("key-input").focus();
  }

  /** Try the key on a cheap authenticated read before keeping it. */
  async function checkKey(value) {
    const err = $("key-error");
    const save = $("key-save");
    save.disabled = true;
    setText(err, "Checking the key\u2026");
    show(err, true);
    let resp;
    try {
      resp = await fetch(new URL(`${ROOT}/v1/profiles/config`, window.location.origin), {
        headers: { Authorization: `Bearer ${value}`, Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch (e) {
      resp = null;
      setText(err, `Could not reach the API to check the key (${e.message || e}).`);
    }
    save.disabled = false;
    if (!resp) return;
    if (resp.ok) {
      await resp.text().catch(() => ""); // read to the end: an unread body is aborted
      setKey(value);
      $("key-input").value = "";
      show(err, false);
      route();
      return;
    }
    let message = "";
    try {
      const body = await resp.json();
      message = body && body.error && body.error.message ? body.error.message : "";
    } catch (_e) {
      message = "";
    }
    if (resp.status === 401) {
      setText(err, "This key is not valid: it is unknown, mistyped, expired or revoked.");
    } else if (resp.status === 403) {
      setText(err, "This key is valid but lacks the read scope the console needs. Use a key with the read scope.");
    } else {
      setText(err, `The API could not check the key (HTTP ${resp.status}${message ? `: ${message}` : ""}).`);
    }
    show(err, true);
    $("key-input").focus();
  }

  function initKeyForm() {
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = $("key-input").value.trim();
      if (!value) {
        setText($("key-error"), "Paste a key first.");
        show($("key-error"), true);
        return;
      }
      checkKey(value);
    });
    $("key-cancel").addEventListener("click", () => route());
    $("change-key").addEventListener("click", (ev) => {
      ev.preventDefault();
      askForKey("");
    });
  }

  // ------------------------------------------------------------------ search

  let searchSeq = 0;

  /** The identifier to look up, a profile id to open, or an error for the form. */
  function parseQuery(type, raw) {
    const value = raw.trim();
    if (!value) return { error: "Type an identifier to search for." };
    if (type) {
      return { identifier: value.startsWith(`${type}:`) ? value : `${type}:${value}` };
    }
    if (UUID_RE.test(value)) return { profileId: value };
    return { query: value };
  }

  function showSearch(q) {
    showView("search-view");
    document.title = "Search \u00b7 Kindred";
    show($("search-error"), false);
    if (q) {
      const m = q.match(/^([A-Za-z_]+):(.*)$/);
      if (m && IDENTIFIER_TYPES.includes(m[1]) && $("search-type").value === m[1]) {
        $("search-input").value = m[2];
      } else {
        $("search-type").value = "";
        $("search-input").value = q;
      }
      runSearch(q);
    } else {
      show($("results"), false);
    }
    $("search-input").focus();
  }

  function initSearchForm() {
    const type = $("search-type");
    const input = $("search-input");
    const syncPlaceholder = () => {
      input.placeholder = type.value
        ? {
            email: "ann@example.com",
            phone: "+14155550100",
            user_id: "usr_1",
            anonymous_id: "3f1c\u2026",
            crm_contact_id: "17",
          }[type.value] || "value"
        : "Kenji Thompson, ann@, +1 415 555 0100, Acme\u2026";
    };
    type.addEventListener("change", () => {
      syncPlaceholder();
      input.focus();
    });
    syncPlaceholder();
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const parsed = parseQuery(type.value, input.value);
      if (parsed.error) {
        setText($("search-error"), parsed.error);
        show($("search-error"), true);
        return;
      }
      show($("search-error"), false);
      if (parsed.profileId) {
        window.location.assign(profileHref(parsed.profileId));
        return;
      }
      const q = parsed.identifier || parsed.query;
      const url = `${ROOT}/ui/?q=${encodeURIComponent(q)}`;
      window.history.pushState({}, "", url);
      clearBanner();
      runSearch(q);
    });
  }

  async function runSearch(q) {
    const seq = ++searchSeq;
    const summary = $("results-summary");
    const body = clear($("results-body"));
    const typed = $("search-type").value;
    show($("results"), true);
    show($("results-table"), false);
    setText(summary, `Searching for ${q}\u2026`);
    let profiles;
    try {
      if (typed) {
        const data = await api("/v1/profiles", { identifier: q });
        profiles = (Array.isArray(data.profiles) ? data.profiles : []).map((p) => ({
          id: p.id,
          name: displayName(p.traits || {}),
          email: (p.traits || {}).email,
          company: companyOf(p),
          last_seen: p.last_seen,
          records: Array.isArray(p.records) ? p.records.length : null,
        }));
      } else {
        const data = await api("/v1/profiles/search", { q });
        profiles = Array.isArray(data.profiles) ? data.profiles : [];
      }
    } catch (err) {
      if (seq !== searchSeq) return;
      show($("results"), false);
      showError("Search failed", err);
      return;
    }
    if (seq !== searchSeq) return;
    if (!profiles.length) {
      setText(summary, `No profile matches ${q}.`);
      return;
    }
    setText(
      summary,
      `${profiles.length} profile${profiles.length === 1 ? "" : "s"} matching ${q}`,
    );
    for (const p of profiles) {
      const href = profileHref(p.id);
      const link = h("a", { href }, p.name || h("span", { class: "muted" }, "Unnamed"));
      const row = h(
        "tr",
        { class: "clickable" },
        h("td", null, link, h("div", { class: "muted small" }, h("code", null, shortId(p.id)))),
        h("td", null, p.company || "\u2014"),
        h("td", { class: "value" }, fmtValue(p.email)),
        h("td", null, timeEl(p.last_seen, true)),
        h("td", { class: "num" }, p.records === null || p.records === undefined ? "\u2014" : String(p.records)),
      );
      row.addEventListener("click", (ev) => {
        if (ev.target.closest("a")) return;
        window.location.assign(href);
      });
      body.append(row);
    }
    show($("results-table"), true);
  }

  // ------------------------------------------------------------------ profile

  const journey = { profileId: null, cursor: null, channel: "", seq: 0, count: 0 };

  async function showProfile(id) {
    showView("profile-view");
    resetProfile(id);
    let profile;
    try {
      profile = await api(`/v1/profiles/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err.status === 401) return;
      setText($("profile-name"), "Profile not available");
      setText($("profile-subtitle"), "");
      show($("profile-details"), false);
      showError("Could not load the profile", err);
      return;
    }
    renderHeader(profile);
    renderTraits(profile);
    renderAccount(profile.account);
    initChannels(profile.sources || []);
    const live = profile.id;
    loadIdentities(live);
    loadExplain(live);
    journey.profileId = live;
    journey.channel = $("journey-channel").value;
    loadJourney(true);
  }

  function resetProfile(id) {
    document.title = "Profile \u00b7 Kindred";
    setText($("profile-name"), "Loading\u2026");
    setText($("profile-subtitle"), "");
    setText($("profile-id"), id);
    show($("merged-notice"), false);
    show($("profile-details"), true);
    show($("merged-ids"), false);
    clear($("traits-body"));
    clear($("identities-body"));
    clear($("explain-records"));
    clear($("merges-body"));
    clear($("journey-list"));
    show($("journey-more"), false);
  }

  function renderHeader(p) {
    const traits = p.traits || {};
    const name = displayName(traits);
    const title = name || (isBlank(traits.email) ? "Unnamed profile" : String(traits.email));
    setText($("profile-name"), title);
    document.title = `${title} \u00b7 Kindred`;

    const company = companyOf(p);
    const role = [traits.job_title, company].filter((x) => !isBlank(x)).join(" at ");
    const parts = [name && !isBlank(traits.email) ? String(traits.email) : "", role].filter(
      Boolean,
    );
    setText($("profile-subtitle"), parts.join(" \u00b7 "));

    setText($("profile-id"), p.id);
    clear($("profile-first-seen")).append(timeEl(p.first_seen));
    clear($("profile-last-seen")).append(timeEl(p.last_seen, true));
    const sources = Array.isArray(p.sources) ? p.sources : [];
    const names = [...new Set(sources.map((s) => s.source))];
    setText(
      $("profile-sources"),
      `${sources.length} from ${names.length ? names.join(", ") : "no source"}`,
    );

    const notice = clear($("merged-notice"));
    if (p.merged) {
      appendAll(notice, [
        "You asked for ",
        h("code", null, String(p.requested_id)),
        ", which was merged into ",
        h(
          "a",
          { href: profileHref(p.merged_into || p.id) },
          h("code", null, String(p.merged_into || p.id)),
        ),
        ". Showing that profile.",
      ]);
      show(notice, true);
    }
  }

  function traitRank(name) {
    const i = TRAIT_ORDER.indexOf(name);
    return i === -1 ? TRAIT_ORDER.length : i;
  }

  /** Email and phone as identity resolution compares them; the raw form below when it differs. */
  function normalisedValue(name, value) {
    const raw = fmtValue(value);
    let norm = raw;
    if (typeof value === "string" && (name === "email" || name.endsWith("_email"))) {
      norm = value.trim().toLowerCase();
    } else if (typeof value === "string" && (name === "phone" || name.endsWith("_phone"))) {
      const digits = value.replace(/[^\d+]/g, "");
      norm = digits.startsWith("+") ? digits : digits.length === 10 ? `+1${digits}` : digits;
    }
    if (norm === raw) return [raw];
    return [norm, h("span", { class: "muted small raw", title: "as received" }, `raw: ${raw}`)];
  }

  function renderTraits(p) {
    const traits = p.traits || {};
    const provenance = p.provenance || {};
    const names = Object.keys(traits).sort(
      (a, b) => traitRank(a) - traitRank(b) || a.localeCompare(b),
    );
    const body = clear($("traits-body"));
    for (const name of names) {
      const prov = provenance[name] || {};
      const field = prov.original_name && prov.original_name !== name ? prov.original_name : "";
      body.append(
        h(
          "tr",
          null,
          h("th", { scope: "row" }, name),
          h("td", { class: "value" }, ...normalisedValue(name, traits[name])),
          h(
            "td",
            null,
            prov.source ? h("span", { class: "nowrap" }, String(prov.source)) : "\u2014",
            prov.record_key ? h("div", { class: "muted small" }, String(prov.record_key)) : null,
          ),
          h("td", null, timeEl(prov.at)),
          h(
            "td",
            null,
            field
              ? h("code", { class: "renamed", title: `stored as ${name}` }, field)
              : prov.original_name
                ? h("code", { class: "muted" }, String(prov.original_name))
                : h("span", { class: "muted" }, "\u2014"),
          ),
        ),
      );
    }
    show($("traits-table"), names.length > 0);
    show($("traits-empty"), names.length === 0);
  }

  function renderAccount(account) {
    const box = clear($("account-body"));
    if (!account) {
      box.append(h("p", { class: "muted" }, "No company linked to this person."));
      return;
    }
    box.append(
      h("p", { class: "account-name" }, account.name || account.domain || "Unnamed company"),
    );
    const dl = h("dl", { class: "kv" });
    const add = (k, v) => {
      if (!isBlank(v)) dl.append(h("div", null, h("dt", null, k), h("dd", null, v)));
    };
    add("Domain", account.domain);
    for (const [k, v] of Object.entries(account.traits || {})) {
      if (k !== "name" && k !== "domain") add(k, fmtValue(v));
    }
    if (account.via) {
      add("Linked via", `${account.via.source || "?"} \u00b7 ${account.via.key || "?"}`);
    }
    add("Account id", account.id ? h("code", null, String(account.id)) : "");
    box.append(dl);
  }

  // ------------------------------------------------------------------ identities

  async function loadIdentities(id) {
    const status = $("identities-status");
    setText(status, "Loading\u2026");
    show(status, true);
    let data;
    try {
      data = await api(`/v1/profiles/${encodeURIComponent(id)}/identities`);
    } catch (err) {
      setText(status, "Could not load identities.");
      showError("Could not load identities", err);
      return;
    }
    const items = Array.isArray(data.identities) ? data.identities : [];
    const body = clear($("identities-body"));
    for (const item of items) {
      const sources = (item.sources || []).map((s) =>
        h("span", { class: "chip" }, `${s.source}/${s.record_key}`),
      );
      body.append(
        h(
          "tr",
          null,
          h("td", null, h("span", { class: "id-type" }, item.type)),
          h("td", { class: "value" }, h("code", null, item.value)),
          h("td", null, sources),
          h(
            "td",
            null,
            item.linking
              ? h(
                  "span",
                  { class: "flag yes", title: "Used to join records into one person" },
                  "linking",
                )
              : h(
                  "span",
                  { class: "flag no", title: "Kept, but never used to join records" },
                  "not linking",
                ),
          ),
          h("td", null, timeEl(item.first_seen)),
        ),
      );
    }
    show($("identities-table"), items.length > 0);
    setText(status, items.length ? "" : "No identities.");
    show(status, items.length === 0);
  }

  // ------------------------------------------------------------------ explanation

  function recordLabel(r) {
    return `${r.source}/${r.record_key}`;
  }

  async function loadExplain(id) {
    const summary = $("explain-summary");
    const mergesStatus = $("merges-status");
    setText(summary, "Loading\u2026");
    setText(mergesStatus, "Loading\u2026");
    let data;
    try {
      data = await api(`/v1/profiles/${encodeURIComponent(id)}/explain`);
    } catch (err) {
      setText(summary, "The explanation could not be loaded.");
      setText(mergesStatus, "\u2014");
      showError("Could not load the explanation", err);
      return;
    }
    const records = Array.isArray(data.records) ? data.records : [];
    const merges = Array.isArray(data.merges) ? data.merges : [];
    const labels = new Map(records.map((r) => [String(r.record_id), recordLabel(r)]));
    const labelOf = (rid) => labels.get(String(rid)) || `record #${rid}`;

    const sources = [...new Set(records.map((r) => r.source))];
    const linked = records.filter((r) => ((r.evidence && r.evidence.shared) || []).length).length;
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    let text = "No source records belong to this profile.";
    if (records.length === 1) {
      text = `One record, from ${sources[0]}: there is nothing it had to be joined with.`;
    } else if (records.length > 1) {
      text =
        `${plural(records.length, "record")} from ${plural(sources.length, "source")} ` +
        `(${sources.join(", ")}); ${linked} of them share an identifier with another record, ` +
        "which is what joined them.";
    }
    setText(summary, text);

    const list = clear($("explain-records"));
    for (const r of records) list.append(renderRecord(r, labelOf));

    const absorbed = Array.isArray(data.merged_profiles) ? data.merged_profiles : [];
    const absorbedBox = clear($("merged-ids"));
    if (absorbed.length) {
      appendAll(absorbedBox, [
        absorbed.length === 1
          ? "An earlier profile id now answers as this profile: "
          : "Earlier profile ids now answer as this profile: ",
        absorbed.map((pid, i) => [i ? ", " : "", h("code", null, String(pid))]),
      ]);
    }
    show(absorbedBox, absorbed.length > 0);

    const body = clear($("merges-body"));
    for (const m of merges) body.append(renderMerge(m, id, labelOf));
    show($("merges-table"), merges.length > 0);
    setText(
      mergesStatus,
      merges.length ? "" : "No merges: this profile was never combined with another.",
    );
    show(mergesStatus, merges.length === 0);
  }

  function renderRecord(r, labelOf) {
    const evidence = r.evidence && typeof r.evidence === "object" ? r.evidence : {};
    const shared = Array.isArray(evidence.shared) ? evidence.shared : [];
    const rule = String(r.rule || "");
    const ruleClass =
      rule === "shared_identifier" ? "rule shared" : rule === "new_record" ? "rule first" : "rule";
    const meta = [
      "linked ",
      timeEl(r.linked_at),
      r.model_version ? ` \u00b7 model ${r.model_version}` : "",
      ` \u00b7 record #${r.record_id}`,
    ];

    const reasons = h("ul", { class: "evidence" });
    for (const s of shared) {
      reasons.append(
        h(
          "li",
          null,
          h("span", { class: "id-type" }, s.type),
          " ",
          h("code", null, fmtValue(s.value)),
          " shared with ",
          h("strong", null, labelOf(s.record_id)),
        ),
      );
    }
    for (const [k, v] of Object.entries(evidence)) {
      if (k === "shared") continue;
      reasons.append(
        h("li", null, h("span", { class: "id-type" }, k), " ", h("code", null, fmtValue(v))),
      );
    }
    if (!reasons.childNodes.length) {
      reasons.append(
        h(
          "li",
          { class: "muted" },
          rule === "new_record"
            ? "First record of this person: nothing it carried matched an earlier record " +
                "when it arrived."
            : "No evidence recorded.",
        ),
      );
    }
    return h(
      "li",
      { class: "record" },
      h(
        "div",
        { class: "record-head" },
        channelBadge(r.channel),
        h("strong", null, r.source),
        " ",
        h("code", null, r.record_key),
        h(
          "span",
          { class: ruleClass, title: rule },
          RULE_LABELS[rule] || humanize(rule) || "unknown rule",
        ),
      ),
      h("div", { class: "record-meta muted small" }, meta),
      reasons,
    );
  }

  function renderMerge(m, currentId, labelOf) {
    const kind = String(m.kind || "");
    let what;
    if (kind === "merge") {
      what = [
        profileLink(m.other_profile_id, currentId),
        " merged into ",
        profileLink(m.profile_id, currentId),
      ];
    } else if (kind === "create") {
      what = [profileLink(m.profile_id, currentId), " created"];
    } else {
      what = [profileLink(m.profile_id, currentId)];
      if (!isBlank(m.other_profile_id))
        what.push(" \u2194 ", profileLink(m.other_profile_id, currentId));
    }
    const evidence = m.evidence && typeof m.evidence === "object" ? m.evidence : {};
    const parts = [];
    if (Array.isArray(evidence.records)) {
      parts.push(
        h(
          "div",
          null,
          "records: ",
          evidence.records.map((rid, i) => [i ? ", " : "", h("strong", null, labelOf(rid))]),
        ),
      );
    }
    for (const [k, v] of Object.entries(evidence)) {
      if (k === "records") continue;
      parts.push(h("div", null, `${k}: `, h("code", null, fmtValue(v))));
    }
    return h(
      "tr",
      null,
      h("td", null, timeEl(m.created_at)),
      h(
        "td",
        null,
        h("span", { class: `kind kind-${kind.replace(/[^a-z_]/gi, "") || "other"}` }, kind || "?"),
        " ",
        what,
      ),
      h("td", null, humanize(m.cause) || "\u2014"),
      h("td", { class: "small" }, parts.length ? parts : h("span", { class: "muted" }, "\u2014")),
    );
  }

  // ------------------------------------------------------------------ journey

  function initChannels(sources) {
    const select = $("journey-channel");
    const current = select.value;
    const seen = sources.map((s) => s.channel).filter((c) => !isBlank(c));
    const channels = [...new Set([...KNOWN_CHANNELS, ...seen])];
    clear(select).append(h("option", { value: "" }, "All channels"));
    for (const c of channels) select.append(h("option", { value: c }, c));
    select.value = channels.includes(current) ? current : "";
  }

  function campaignChips(campaign) {
    if (!campaign || typeof campaign !== "object") return [];
    const chips = [];
    const keys = Object.keys(campaign).sort((a, b) => (a === "name" ? -1 : b === "name" ? 1 : 0));
    for (const k of keys) {
      const v = campaign[k];
      if (isBlank(v)) continue;
      if (k === "click_ids" && typeof v === "object") {
        for (const [ck, cv] of Object.entries(v))
          chips.push(h("span", { class: "chip" }, `${ck}=${fmtValue(cv)}`));
      } else {
        chips.push(
          h(
            "span",
            { class: k === "name" ? "chip strong" : "chip" },
            `${CAMPAIGN_LABELS[k] || k}=${fmtValue(v)}`,
          ),
        );
      }
    }
    return chips;
  }

  function renderTouchpoint(t) {
    const props = t.properties && typeof t.properties === "object" ? t.properties : {};
    const details = Object.keys(props).length
      ? h(
          "details",
          { class: "props" },
          h("summary", null, "properties"),
          h("pre", null, JSON.stringify(props, null, 2)),
        )
      : null;
    const chips = campaignChips(t.campaign);
    return h(
      "li",
      { class: "tp" },
      h("div", { class: "tp-time" }, timeEl(t.occurred_at)),
      h("div", { class: "tp-channel" }, channelBadge(t.channel)),
      h(
        "div",
        { class: "tp-body" },
        h(
          "div",
          { class: "tp-title" },
          h("strong", null, isBlank(t.event) ? "(unnamed)" : String(t.event)),
          " ",
          h(
            "span",
            { class: "muted small" },
            [t.type, t.source].filter((x) => !isBlank(x)).join(" \u00b7 "),
          ),
        ),
        chips.length ? h("div", { class: "chips" }, chips) : null,
        details,
      ),
    );
  }

  async function loadJourney(reset) {
    if (reset) {
      journey.seq += 1;
      journey.cursor = null;
      journey.count = 0;
      clear($("journey-list"));
    }
    const seq = journey.seq;
    const more = $("journey-more");
    const status = $("journey-status");
    more.disabled = true;
    setText(more, "Loading\u2026");
    if (reset) {
      setText(status, "Loading\u2026");
      show(status, true);
    }
    let data;
    try {
      data = await api(`/v1/profiles/${encodeURIComponent(journey.profileId)}/journey`, {
        limit: JOURNEY_PAGE,
        cursor: journey.cursor,
        channel: journey.channel,
      });
    } catch (err) {
      if (seq !== journey.seq) return;
      more.disabled = false;
      setText(more, "Load more");
      setText(status, "Could not load the journey.");
      show(status, true);
      showError("Could not load the journey", err);
      return;
    }
    if (seq !== journey.seq) return;
    const items = Array.isArray(data.items) ? data.items : [];
    const list = $("journey-list");
    for (const t of items) list.append(renderTouchpoint(t));
    journey.count += items.length;
    journey.cursor = data.next_cursor || null;
    more.disabled = false;
    setText(more, "Load more");
    show(more, Boolean(journey.cursor));
    const filtered = journey.channel ? ` on the ${journey.channel} channel` : "";
    setText(
      status,
      journey.count
        ? `${journey.count} touchpoint${journey.count === 1 ? "" : "s"}${filtered}` +
            `${journey.cursor ? " so far" : ""}.`
        : `No touchpoints${filtered}.`,
    );
    show(status, true);
  }

  function initJourney() {
    $("journey-channel").addEventListener("change", (ev) => {
      if (!journey.profileId) return;
      journey.channel = ev.target.value;
      loadJourney(true);
    });
    $("journey-more").addEventListener("click", () => {
      if (journey.profileId && journey.cursor) loadJourney(false);
    });
  }

  // ------------------------------------------------------------------ start

  function init() {
    $("banner-close").addEventListener("click", clearBanner);
    initKeyForm();
    initSearchForm();
    initJourney();
    window.addEventListener("popstate", route);
    route();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
