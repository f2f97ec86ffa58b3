/* Kindred console: identity work (/ui/changes) — the merge/split change log with each
 * change's cause and summary in words (filterable by profile and time, newest first, keyset
 * paged), merging two profiles and splitting records off a profile (each with a reason and a
 * confirmation step), and why two profiles are not one.
 *
 * Query parameters: profile_id, since, until (the log's filters); merge=ID[,ID] (prefills the
 * merge form), split=ID (loads that profile's records into the split form), whynot=ID[,ID]
 * (prefills why-not, runs it when both are given).
 *
 * Registers itself with window.Kindred (ui.js) and exposes window.KindredChanges
 * ({changesHref, describeChange}) for other pages. Every value from the API reaches the DOM
 * as text, never as HTML.
 */
"use strict";

(() => {
  const K = window.Kindred;
  const { h, clear, show, setText, timeEl, isBlank, humanize, displayName } = K;
  const { profileLink, profileHref, shortId, showError, api, navigate, ROOT } = K;
  const PAGE = 50;
  const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

  const state = { filters: {}, before: null, seq: 0, count: 0, splitRecords: [] };
  let built = null;

  // ------------------------------------------------------------------ shared with other pages

  /** /ui/changes with the given query parameters (profile_id, since, until, merge, split...). */
  function changesHref(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (!isBlank(v)) q.set(k, String(v));
    const s = q.toString();
    return `${ROOT}/ui/changes${s ? `?${s}` : ""}`;
  }

  /** A change/merge entry in words: the API's summary, else kind and cause. */
  function describeChange(entry) {
    const e = entry || {};
    if (!isBlank(e.summary)) return String(e.summary);
    return `${humanize(e.kind || "change")} (cause ${e.cause || "unknown"})`;
  }

  window.KindredChanges = Object.freeze({ changesHref, describeChange });

  // ------------------------------------------------------------------ helpers

  const field = (id, label, input) =>
    h("div", { class: "cx-field" }, h("label", { for: id }, label), input);

  function textInput(id, placeholder) {
    return h("input", {
      id,
      type: "text",
      spellcheck: "false",
      autocomplete: "off",
      placeholder: placeholder || "",
    });
  }

  function errorWords(err) {
    if (!err) return "";
    const status = err.status ? ` (HTTP ${err.status}${err.code ? `, ${err.code}` : ""})` : "";
    let hint = "";
    if (err.status === 403) hint = " This needs a key with the admin scope.";
    if (err.status === 409) hint = " The profiles changed meanwhile: reload and try again.";
    return `${err.message || String(err)}${status}.${hint}`;
  }

  function showFormError(el, err) {
    setText(el, typeof err === "string" ? err : errorWords(err));
    show(el, true);
  }

  function hideEl(el) {
    setText(el, "");
    show(el, false);
  }

  const isUuid = (s) => UUID_RE.test(String(s || "").trim());

  /** datetime-local value (local time) -> ISO in UTC; "" stays "". */
  function localToIso(value) {
    if (isBlank(value)) return "";
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? "" : d.toISOString();
  }

  /** ISO -> datetime-local value in local time. */
  function isoToLocal(iso) {
    const d = K.parseDate(iso);
    if (!d) return "";
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(
      d.getMinutes(),
    )}`;
  }

  async function profileCard(id) {
    const p = await api(`/v1/profiles/${encodeURIComponent(id)}`);
    const t = p.traits || {};
    return {
      id: p.id,
      name: displayName(t) || "(no name)",
      email: isBlank(t.email) ? "" : String(t.email),
      company: K.companyOf(p),
    };
  }

  function profileFacts(label, card) {
    return h(
      "div",
      { class: "cx-who" },
      h("div", { class: "muted small" }, label),
      h("strong", null, card.name),
      card.email ? h("div", null, card.email) : h("div", { class: "muted" }, "no email"),
      card.company ? h("div", { class: "muted" }, card.company) : null,
      h("div", null, h("a", { href: profileHref(card.id) }, h("code", null, String(card.id)))),
    );
  }

  // ------------------------------------------------------------------ building the page

  function build(view) {
    const el = {};
    el.profile = textInput("changes-profile", "a profile id");
    el.since = h("input", { id: "changes-since", type: "datetime-local" });
    el.until = h("input", { id: "changes-until", type: "datetime-local" });
    el.filterError = h("p", { id: "changes-filter-error", class: "form-error", hidden: true });
    el.filter = h(
      "form",
      { id: "changes-filter", class: "cx-filter", autocomplete: "off" },
      field("changes-profile", "Profile", el.profile),
      field("changes-since", "Since", el.since),
      field("changes-until", "Until", el.until),
      h(
        "div",
        { class: "cx-filter-actions" },
        h("button", { id: "changes-apply", type: "submit", class: "primary" }, "Filter"),
        h("button", { id: "changes-clear", type: "button" }, "Clear"),
      ),
    );
    el.caption = h("p", { id: "changes-caption", class: "muted" }, "Loading\u2026");
    el.profileLinks = h("p", { id: "changes-profile-links", class: "small" });
    el.body = h("tbody", { id: "changes-body" });
    el.table = h(
      "table",
      { id: "changes-table", class: "table cx-table" },
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { class: "cx-when" }, "When"),
          h("th", { class: "cx-kind" }, "Change"),
          h("th", { class: "cx-summary" }, "What happened and why"),
          h("th", { class: "cx-profiles" }, "Profiles"),
        ),
      ),
      el.body,
    );
    el.more = h("button", { id: "changes-more", type: "button", hidden: true }, "Older changes");

    // merge
    el.mergeA = textInput("merge-a", "profile id");
    el.mergeB = textInput("merge-b", "profile id");
    el.mergeReason = textInput("merge-reason", "why they are one person");
    el.mergeError = h("p", { id: "merge-error", class: "form-error", hidden: true });
    el.mergeConfirm = h("div", { id: "merge-confirm", class: "cx-confirm", hidden: true });
    el.mergeResult = h("p", { id: "merge-result", class: "cx-result", hidden: true });
    el.mergeForm = h(
      "form",
      { id: "merge-form", autocomplete: "off" },
      field("merge-a", "First profile", el.mergeA),
      field("merge-b", "Second profile", el.mergeB),
      field("merge-reason", "Reason", el.mergeReason),
      h(
        "div",
        { class: "form-actions" },
        h("button", { id: "merge-review", type: "submit", class: "primary" }, "Review merge"),
      ),
    );

    // split
    el.splitProfile = textInput("split-profile", "profile id");
    el.splitRecords = h("div", { id: "split-records", class: "cx-records", hidden: true });
    el.splitReason = textInput("split-reason", "why these records are someone else");
    el.splitError = h("p", { id: "split-error", class: "form-error", hidden: true });
    el.splitConfirm = h("div", { id: "split-confirm", class: "cx-confirm", hidden: true });
    el.splitResult = h("p", { id: "split-result", class: "cx-result", hidden: true });
    el.splitForm = h(
      "form",
      { id: "split-form", autocomplete: "off" },
      h(
        "div",
        { class: "cx-inline" },
        field("split-profile", "Profile", el.splitProfile),
        h("button", { id: "split-load", type: "button" }, "Load records"),
      ),
      el.splitRecords,
      field("split-reason", "Reason", el.splitReason),
      h(
        "div",
        { class: "form-actions" },
        h("button", { id: "split-review", type: "submit", class: "primary" }, "Review split"),
      ),
    );

    // why not
    el.whyA = textInput("whynot-a", "profile id");
    el.whyB = textInput("whynot-b", "profile id");
    el.whyError = h("p", { id: "whynot-error", class: "form-error", hidden: true });
    el.whyResult = h("div", { id: "whynot-result", class: "cx-whynot", hidden: true });
    el.whyForm = h(
      "form",
      { id: "whynot-form", autocomplete: "off" },
      field("whynot-a", "First profile", el.whyA),
      field("whynot-b", "Second profile", el.whyB),
      h(
        "div",
        { class: "form-actions" },
        h("button", { id: "whynot-run", type: "submit", class: "primary" }, "Why not one person?"),
      ),
    );

    view.append(
      h(
        "header",
        { class: "card" },
        h("h1", null, "Identity changes"),
        h(
          "p",
          { class: "muted" },
          "Every merge and split of the identity graph with its cause in words, newest first. ",
          "Merging and splitting need a key with the admin scope.",
        ),
        el.filter,
        el.filterError,
      ),
      h(
        "div",
        { class: "grid cx-tools" },
        h(
          "section",
          { class: "card", id: "merge-card" },
          h("h2", null, "Merge two profiles"),
          el.mergeForm,
          el.mergeError,
          el.mergeConfirm,
          el.mergeResult,
        ),
        h(
          "section",
          { class: "card", id: "split-card" },
          h("h2", null, "Split records off a profile"),
          el.splitForm,
          el.splitError,
          el.splitConfirm,
          el.splitResult,
        ),
        h(
          "section",
          { class: "card", id: "whynot-card" },
          h("h2", null, "Why are two profiles not one?"),
          el.whyForm,
          el.whyError,
          el.whyResult,
        ),
      ),
      h(
        "section",
        { class: "card", id: "changes-card" },
        h("h2", null, "Change log"),
        el.caption,
        el.profileLinks,
        h("div", { class: "cx-scroll" }, el.table),
        el.more,
      ),
    );

    el.filter.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const pid = el.profile.value.trim();
      if (pid && !isUuid(pid)) {
        showFormError(el.filterError, "A profile id is a UUID (open a profile to copy its id).");
        return;
      }
      hideEl(el.filterError);
      navigate(
        changesHref({
          profile_id: pid,
          since: localToIso(el.since.value),
          until: localToIso(el.until.value),
        }),
      );
    });
    view.querySelector("#changes-clear").addEventListener("click", () => navigate(changesHref({})));
    el.more.addEventListener("click", () => loadChanges(false));
    el.mergeForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      reviewMerge();
    });
    el.splitForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      reviewSplit();
    });
    view.querySelector("#split-load").addEventListener("click", () => loadSplitRecords());
    el.whyForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      runWhyNot();
    });
    return el;
  }

  // ------------------------------------------------------------------ the change log

  function changeRow(c) {
    const kind = String(c.kind || "");
    let profiles;
    if (kind === "merge") {
      profiles = [
        profileLink(c.other_profile_id),
        h("span", { class: "muted" }, " merged into "),
        profileLink(c.profile_id),
      ];
    } else if (kind === "split") {
      profiles = [
        profileLink(c.profile_id),
        h("span", { class: "muted" }, " split from "),
        profileLink(c.other_profile_id),
      ];
      if (!isBlank(c.other_profile_id)) {
        profiles.push(
          h(
            "div",
            { class: "small" },
            h(
              "a",
              { href: changesHref({ whynot: `${c.profile_id},${c.other_profile_id}` }) },
              "why apart now?",
            ),
          ),
        );
      }
    } else {
      profiles = [profileLink(c.profile_id)];
    }
    return h(
      "tr",
      { "data-change": String(c.id) },
      h("td", { class: "cx-when" }, timeEl(c.created_at, true)),
      h(
        "td",
        { class: "cx-kind" },
        h("span", { class: `kind kind-${kind.replace(/[^a-z_]/gi, "") || "other"}` }, kind || "?"),
        h("div", { class: "muted small" }, humanize(c.cause)),
      ),
      h("td", { class: "cx-summary" }, describeChange(c)),
      h("td", { class: "cx-profiles" }, profiles),
    );
  }

  async function loadChanges(reset) {
    const el = built;
    const seq = ++state.seq;
    if (reset) {
      state.before = null;
      state.count = 0;
      clear(el.body);
      setText(el.caption, "Loading\u2026");
      show(el.more, false);
    }
    const f = state.filters;
    let page;
    try {
      page = await api("/v1/identity/changes", {
        order: "desc",
        limit: PAGE,
        before: state.before,
        profile_id: f.profile_id,
        since: f.since,
        until: f.until,
      });
    } catch (err) {
      if (seq !== state.seq) return;
      setText(el.caption, "The change log could not be loaded.");
      if (err.status === 422 || err.status === 400) showFormError(el.filterError, err);
      else showError("Could not load the identity changes", err);
      return;
    }
    if (seq !== state.seq) return;
    for (const c of page.items || []) el.body.append(changeRow(c));
    state.count += (page.items || []).length;
    state.before = page.next_before;
    show(el.more, !isBlank(page.next_before));
    const scope = [];
    if (f.profile_id) scope.push(`touching profile ${shortId(f.profile_id)}`);
    if (f.since) scope.push(`since ${new Date(f.since).toLocaleString()}`);
    if (f.until) scope.push(`until ${new Date(f.until).toLocaleString()}`);
    const what = scope.length ? ` ${scope.join(", ")}` : "";
    clear(el.profileLinks);
    if (f.profile_id && isUuid(f.profile_id)) {
      el.profileLinks.append(
        h("a", { href: profileHref(f.profile_id) }, "Open the profile"),
        " \u00b7 ",
        h("a", { href: changesHref({ split: f.profile_id }) }, "split records off it"),
      );
    }
    setText(
      el.caption,
      state.count
        ? `${state.count} change${state.count === 1 ? "" : "s"}${what}${
            page.next_before ? " so far (older ones below)" : ""
          }, newest first.`
        : `No merges or splits${what}.`,
    );
  }

  // ------------------------------------------------------------------ merge

  async function reviewMerge() {
    const el = built;
    hideEl(el.mergeError);
    show(el.mergeResult, false);
    show(el.mergeConfirm, false);
    const a = el.mergeA.value.trim();
    const b = el.mergeB.value.trim();
    if (!isUuid(a) || !isUuid(b)) {
      showFormError(el.mergeError, "Give two profile ids (UUIDs).");
      return;
    }
    if (a.toLowerCase() === b.toLowerCase()) {
      showFormError(el.mergeError, "Give two different profiles.");
      return;
    }
    let cards;
    try {
      cards = await Promise.all([profileCard(a), profileCard(b)]);
    } catch (err) {
      showFormError(el.mergeError, err);
      return;
    }
    if (String(cards[0].id) === String(cards[1].id)) {
      showFormError(el.mergeError, "These ids are already one profile.");
      return;
    }
    const reason = el.mergeReason.value.trim();
    const go = h("button", { id: "merge-confirm-btn", type: "button", class: "primary" }, "Merge");
    const cancel = h("button", { type: "button" }, "Cancel");
    clear(el.mergeConfirm).append(
      h("p", null, h("strong", null, "Merge these two profiles into one person?")),
      h("div", { class: "cx-pair" }, profileFacts("First", cards[0]), profileFacts("Second", cards[1])),
      h(
        "p",
        { class: "muted" },
        reason ? `Reason: ${reason}` : "No reason given.",
        " The older profile keeps its id; the merge is remembered (a must-link).",
      ),
      h("div", { class: "form-actions" }, go, cancel),
    );
    show(el.mergeConfirm, true);
    cancel.addEventListener("click", () => show(el.mergeConfirm, false));
    go.addEventListener("click", async () => {
      go.disabled = true;
      try {
        const out = await api("/v1/identity/merge", null, {
          method: "POST",
          body: { profile_ids: [cards[0].id, cards[1].id], reason: reason || null },
        });
        show(el.mergeConfirm, false);
        clear(el.mergeResult).append(
          "Merged: one profile now, ",
          h("a", { href: profileHref(out.survivor), id: "merge-survivor" }, shortId(out.survivor)),
          ".",
        );
        show(el.mergeResult, true);
        loadChanges(true);
      } catch (err) {
        go.disabled = false;
        showFormError(el.mergeError, err);
      }
    });
  }

  // ------------------------------------------------------------------ split

  async function loadSplitRecords() {
    const el = built;
    hideEl(el.splitError);
    show(el.splitConfirm, false);
    show(el.splitResult, false);
    const pid = el.splitProfile.value.trim();
    if (!isUuid(pid)) {
      showFormError(el.splitError, "Give a profile id (UUID).");
      return false;
    }
    let out;
    try {
      out = await api(`/v1/profiles/${encodeURIComponent(pid)}/explain`);
    } catch (err) {
      showFormError(el.splitError, err);
      return false;
    }
    state.splitProfile = out.profile_id;
    state.splitRecords = out.records || [];
    clear(el.splitRecords);
    el.splitRecords.append(
      h("p", { class: "muted small" }, "Tick the records that belong to someone else:"),
    );
    const list = h("ul", { class: "cx-record-list" });
    for (const r of state.splitRecords) {
      const id = `split-rec-${r.record_id}`;
      list.append(
        h(
          "li",
          null,
          h(
            "label",
            { class: "inline", for: id },
            h("input", { type: "checkbox", id, value: String(r.record_id), class: "split-rec" }),
            h("span", null, `${r.source} \u00b7 ${r.record_key}`),
            K.channelBadge(r.channel),
          ),
          h("div", { class: "muted small cx-rec-why" }, r.summary || humanize(r.rule)),
        ),
      );
    }
    el.splitRecords.append(list);
    if (state.splitRecords.length < 2) {
      el.splitRecords.append(
        h("p", { class: "muted" }, "This profile has one record: there is nothing to split."),
      );
    }
    show(el.splitRecords, true);
    return true;
  }

  async function reviewSplit() {
    const el = built;
    hideEl(el.splitError);
    show(el.splitResult, false);
    if (!state.splitRecords.length || el.splitProfile.value.trim() === "") {
      if (!(await loadSplitRecords())) return;
    }
    const picked = [...el.splitRecords.querySelectorAll("input.split-rec:checked")].map((i) =>
      Number(i.value),
    );
    if (!picked.length) {
      showFormError(el.splitError, "Tick at least one record to move off.");
      return;
    }
    let card;
    try {
      card = await profileCard(state.splitProfile);
    } catch (err) {
      showFormError(el.splitError, err);
      return;
    }
    const reason = el.splitReason.value.trim();
    const chosen = state.splitRecords.filter((r) => picked.includes(Number(r.record_id)));
    const go = h("button", { id: "split-confirm-btn", type: "button", class: "primary" }, "Split");
    const cancel = h("button", { type: "button" }, "Cancel");
    clear(el.splitConfirm).append(
      h("p", null, h("strong", null, `Move ${chosen.length} record(s) to a new profile?`)),
      profileFacts("From", card),
      h(
        "ul",
        null,
        chosen.map((r) => h("li", null, `${r.source} \u00b7 ${r.record_key} (record ${r.record_id})`)),
      ),
      h(
        "p",
        { class: "muted" },
        reason ? `Reason: ${reason}` : "No reason given.",
        " The records stay apart from the rest from now on (a cannot-link).",
      ),
      h("div", { class: "form-actions" }, go, cancel),
    );
    show(el.splitConfirm, true);
    cancel.addEventListener("click", () => show(el.splitConfirm, false));
    go.addEventListener("click", async () => {
      go.disabled = true;
      try {
        const out = await api("/v1/identity/split", null, {
          method: "POST",
          body: {
            profile_id: state.splitProfile,
            records: picked.map((id) => ({ id })),
            reason: reason || null,
          },
        });
        show(el.splitConfirm, false);
        clear(el.splitResult).append(
          `Split: ${_records(out.moved_records)} moved to a new profile `,
          h("a", { href: profileHref(out.new_profile_id), id: "split-new" }, shortId(out.new_profile_id)),
          "; the rest stay on ",
          h("a", { href: profileHref(out.profile_id) }, shortId(out.profile_id)),
          ".",
        );
        show(el.splitResult, true);
        state.splitRecords = [];
        show(el.splitRecords, false);
        loadChanges(true);
      } catch (err) {
        go.disabled = false;
        showFormError(el.splitError, err);
      }
    });
  }

  function _records(ids) {
    const list = (ids || []).map(String);
    return list.length === 1 ? `record ${list[0]}` : `records ${list.join(", ")}`;
  }

  // ------------------------------------------------------------------ why not

  async function runWhyNot() {
    const el = built;
    hideEl(el.whyError);
    show(el.whyResult, false);
    const a = el.whyA.value.trim();
    const b = el.whyB.value.trim();
    if (!isUuid(a) || !isUuid(b)) {
      showFormError(el.whyError, "Give two profile ids (UUIDs).");
      return;
    }
    let out;
    try {
      out = await api("/v1/identity/why-not", { a, b });
    } catch (err) {
      showFormError(el.whyError, err);
      return;
    }
    const reasons = (out.reasons || []).map((r) =>
      h("li", null, r.summary || humanize(r.kind)),
    );
    const shared = (out.shared || []).map((s) =>
      h(
        "li",
        null,
        `${humanize(s.type)} ${s.value}`,
        h("span", { class: "muted" }, s.linking ? " (links)" : " (does not link: generic)"),
      ),
    );
    const ids = out.profiles || [];
    clear(el.whyResult).append(
      h("p", { id: "whynot-summary" }, out.merged ? "These are one profile." : "Not one person:"),
      reasons.length ? h("ul", { class: "evidence", id: "whynot-reasons" }, reasons) : null,
      shared.length
        ? h("div", null, h("p", { class: "muted small" }, "What both hold:"), h("ul", { class: "evidence" }, shared))
        : null,
      h(
        "p",
        { class: "small" },
        ids.map((id, i) => [i ? " \u00b7 " : "", h("a", { href: profileHref(id) }, shortId(id))]),
        ids.length === 2 && !out.merged
          ? [
              " \u00b7 ",
              h(
                "a",
                { href: changesHref({ merge: `${ids[0]},${ids[1]}` }), id: "whynot-merge" },
                "merge them",
              ),
            ]
          : null,
      ),
    );
    show(el.whyResult, true);
  }

  // ------------------------------------------------------------------ the page

  function pair(raw) {
    return String(raw || "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }

  function showChanges(_params, query) {
    document.title = "Identity changes \u00b7 Kindred";
    const view = K.section("changes-view");
    if (!built) built = build(view);
    const el = built;
    state.filters = {
      profile_id: (query.get("profile_id") || "").trim(),
      since: query.get("since") || "",
      until: query.get("until") || "",
    };
    el.profile.value = state.filters.profile_id;
    el.since.value = isoToLocal(state.filters.since);
    el.until.value = isoToLocal(state.filters.until);
    hideEl(el.filterError);
    if (state.filters.profile_id && !isUuid(state.filters.profile_id)) {
      showFormError(el.filterError, "A profile id is a UUID.");
    }
    const merge = pair(query.get("merge"));
    if (merge.length) {
      el.mergeA.value = merge[0] || "";
      el.mergeB.value = merge[1] || "";
      if (merge.length >= 2) reviewMerge();
    }
    const split = (query.get("split") || "").trim();
    if (split) {
      el.splitProfile.value = split;
      loadSplitRecords();
    }
    const why = pair(query.get("whynot"));
    if (why.length) {
      el.whyA.value = why[0] || "";
      el.whyB.value = why[1] || "";
      if (why.length >= 2) runWhyNot();
    }
    const focus = merge.length ? "merge-card" : split ? "split-card" : why.length ? "whynot-card" : null;
    if (focus) document.getElementById(focus).scrollIntoView({ block: "start" });
    loadChanges(true);
  }

  K.page({
    name: "changes",
    view: "changes-view",
    match: (path) => (path === "/ui/changes" ? {} : null),
    show: showChanges,
  });
})();
