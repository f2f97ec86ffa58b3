/* Kindred console: one profile (/ui/profiles/{id}) — golden record, account, identities,
 * why the records are one person, journey. Registers itself with window.Kindred (ui.js).
 * Every value from the API reaches the DOM as text, never as HTML.
 */
"use strict";

(() => {
  const K = window.Kindred;
  const { $, h, clear, show, setText, timeEl, isBlank, fmtValue, humanize, displayName } = K;
  const { companyOf, profileHref, shortId, profileLink, channelBadge, showError, api } = K;
  const { KNOWN_CHANNELS } = K;
  const JOURNEY_PAGE = 50;
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

  const journey = { profileId: null, cursor: null, channel: "", seq: 0, count: 0 };

  async function showProfile(id) {
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

  K.page({
    name: "profile",
    view: "profile-view",
    match(path) {
      const m = path.match(/^\/ui\/profiles\/([^/]+)$/);
      return m ? { id: K.decodeSegment(m[1]) } : null;
    },
    show(params) {
      showProfile(params.id);
    },
  });

  initJourney(); // deferred script: the page's elements exist
})();
