/* Kindred ops console, the core: vanilla JS over the /v1 API.
 *
 * This file holds what every page shares (DOM helpers, formatting, the API client, the key
 * prompt, routing) and the search page. Each other page is its own script (ui-*.js, loaded
 * after this one) that registers itself with window.Kindred.page({...}); the router shows the
 * first registered page whose match() accepts the path, else the search page.
 *
 * Routes:
 *   /ui/?q=TYPE:VALUE        search (this file)
 *   /ui/profiles/{id}        one profile (ui-profile.js); other pages: see their scripts
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
  const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

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

  /** Call the API: GET by default; options.method and options.body (sent as JSON) for writes.
   * Resolves to the parsed JSON body (null for 204); rejects with an ApiError naming the
   * API's own error code and message. */
  async function api(path, params, options) {
    const opts = options || {};
    const url = new URL(ROOT + path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (!isBlank(v)) url.searchParams.set(k, String(v));
    }
    const headers = { Authorization: `Bearer ${getKey()}`, Accept: "application/json" };
    const init = { method: opts.method || "GET", headers, credentials: "same-origin" };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    let resp;
    try {
      resp = await fetch(url, init);
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
      err.details = e.details || (body && body.detail) || null;
      if (resp.status === 401) askForKey(`The API rejected the key: ${err.message}`);
      throw err;
    }
    if (resp.status === 204) return null;
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

  const VIEWS = ["key-view", "search-view"];
  /** Registered pages, in registration order: {name, view, match(path) -> params|null, show}. */
  const PAGES = [];

  function showView(id) {
    for (const v of VIEWS) show($(v), v === id);
    const keyed = id !== "key-view";
    show($("change-key"), keyed);
    show($("topnav-pages"), keyed);
    for (const a of document.querySelectorAll("#topnav-pages a")) {
      const current = (a.dataset.view || "").split(/\s+/).includes(id);
      if (current) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  /** The path below ROOT, without a trailing slash (but "/ui/" stays "/ui/"). */
  function currentPath() {
    let path = window.location.pathname;
    if (ROOT && path.startsWith(ROOT)) path = path.slice(ROOT.length);
    return path.length > 4 ? path.replace(/\/+$/, "") : path;
  }

  /** A path segment as the user typed it (a bad escape stays raw: the API names the problem). */
  function decodeSegment(s) {
    try {
      return decodeURIComponent(s);
    } catch (_err) {
      return s;
    }
  }

  function route() {
    clearBanner();
    if (!getKey()) {
      askForKey("");
      return;
    }
    const path = currentPath();
    const query = new URLSearchParams(window.location.search);
    for (const page of PAGES) {
      const params = page.match(path, query);
      if (params) {
        showView(page.view);
        page.show(params, query);
        return;
      }
    }
    showSearch(query.get("q") || "");
  }

  /** Go to a console URL without reloading the page. */
  function navigate(href) {
    window.history.pushState({}, "", href);
    route();
    window.scrollTo(0, 0);
  }

  /** The <section> of a page: the one in ui.html, or a new one appended to <main>. */
  function section(view) {
    let el = $(view);
    if (!el) {
      el = h("section", { id: view, class: "view", hidden: true });
      $("app").append(el);
    }
    if (!VIEWS.includes(view)) VIEWS.push(view);
    return el;
  }

  /** Register a page: {name, view: section id, match(path, query) -> params|null, show(params)}. */
  function page(spec) {
    section(spec.view);
    PAGES.push(spec);
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
  let activeResult = -1;

  function resultRows() {
    return Array.from($("results-body").querySelectorAll("tr"));
  }

  /** Highlight result ``i`` (-1: none); the input keeps the focus (aria-activedescendant). */
  function highlightResult(i) {
    const rows = resultRows();
    activeResult = rows.length ? Math.max(-1, Math.min(i, rows.length - 1)) : -1;
    rows.forEach((row, n) => {
      const on = n === activeResult;
      row.classList.toggle("active", on);
      row.setAttribute("aria-selected", on ? "true" : "false");
      if (on) row.scrollIntoView({ block: "nearest" });
    });
    const input = $("search-input");
    if (activeResult >= 0) input.setAttribute("aria-activedescendant", rows[activeResult].id);
    else input.removeAttribute("aria-activedescendant");
  }

  function openResult(row) {
    const link = row && row.querySelector("a[href]");
    if (link) navigate(link.getAttribute("href"));
  }

  /** Arrow up/down move the highlighted result, Enter opens it, Escape clears it. */
  function onResultKey(ev) {
    const rows = resultRows();
    if (!rows.length || $("results").hidden) return;
    const inRows = ev.target.closest && ev.target.closest("#results-body tr");
    const current = inRows ? rows.indexOf(inRows) : activeResult;
    if (ev.key === "ArrowDown") {
      ev.preventDefault();
      highlightResult(current < 0 ? 0 : current + 1);
      if (inRows) rows[activeResult].querySelector("a").focus();
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      if (inRows && current === 0) {
        highlightResult(-1);
        $("search-input").focus();
        return;
      }
      highlightResult(current - 1);
      if (inRows && activeResult >= 0) rows[activeResult].querySelector("a").focus();
    } else if (ev.key === "Enter" && current >= 0 && !inRows) {
      ev.preventDefault();
      openResult(rows[current]);
    } else if (ev.key === "Escape" && activeResult >= 0) {
      highlightResult(-1);
    }
  }

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
    input.setAttribute("aria-controls", "results-body");
    input.addEventListener("keydown", onResultKey);
    input.addEventListener("input", () => highlightResult(-1));
    $("results-body").addEventListener("keydown", onResultKey);
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
    activeResult = -1;
    $("search-input").removeAttribute("aria-activedescendant");
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
      `${profiles.length} profile${profiles.length === 1 ? "" : "s"} matching ${q}` +
        " \u00b7 \u2191\u2193 to pick, Enter to open",
    );
    profiles.forEach((p, n) => {
      const href = profileHref(p.id);
      const link = h("a", { href }, p.name || h("span", { class: "muted" }, "Unnamed"));
      const typo = String(p.matched || "").includes("typo");
      const row = h(
        "tr",
        { class: "clickable", id: `result-${n}`, "aria-selected": "false" },
        h(
          "td",
          null,
          link,
          h(
            "div",
            { class: "muted small" },
            h("code", null, shortId(p.id)),
            typo ? " \u00b7 close match" : "",
          ),
        ),
        h("td", null, p.company || "\u2014"),
        h("td", { class: "value" }, fmtValue(p.email)),
        h("td", null, timeEl(p.last_seen, true)),
        h("td", { class: "num" }, p.records === null || p.records === undefined ? "\u2014" : String(p.records)),
      );
      row.addEventListener("click", (ev) => {
        if (ev.target.closest("a")) return;
        navigate(href);
      });
      row.addEventListener("mousemove", () => {
        if (activeResult !== n) highlightResult(n);
      });
      body.append(row);
    });
    show($("results-table"), true);
  }

  // ------------------------------------------------------------------ shared with the pages

  window.Kindred = Object.freeze({
    ROOT,
    KNOWN_CHANNELS,
    IDENTIFIER_TYPES,
    $,
    h,
    appendAll,
    clear,
    show,
    setText,
    parseDate,
    relative,
    timeEl,
    isBlank,
    fmtValue,
    humanize,
    displayName,
    companyOf,
    profileHref,
    shortId,
    profileLink,
    channelBadge,
    showError,
    clearBanner,
    ApiError,
    api,
    page,
    section,
    navigate,
    decodeSegment,
    route,
  });

  // ------------------------------------------------------------------ start

  function init() {
    $("banner-close").addEventListener("click", clearBanner);
    initKeyForm();
    initSearchForm();
    window.addEventListener("popstate", route);
    // links inside the console move without a reload (ctrl/cmd-click still opens a new tab)
    document.addEventListener("click", (ev) => {
      const a = ev.target.closest && ev.target.closest("a[href]");
      if (!a || ev.defaultPrevented || ev.button !== 0) return;
      if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey || a.target) return;
      const url = new URL(a.href, window.location.href);
      if (url.origin !== window.location.origin || !url.pathname.startsWith(`${ROOT}/ui/`)) return;
      if (url.pathname.startsWith(`${ROOT}/ui/static/`)) return;
      ev.preventDefault();
      navigate(url.pathname + url.search + url.hash);
    });
    route();
  }

  // The page scripts (deferred, after this one) register before DOMContentLoaded fires.
  if (document.readyState === "complete") init();
  else document.addEventListener("DOMContentLoaded", init);
})();
