/* Kindred console: the dashboard (/ui/dashboard) — how healthy the base is (temperature,
 * lifecycle, activity, journey funnel with stuck counts, overdue complaints) and how the
 * pipeline keeps up (ingest rate, backlogs). One request: GET /v1/dashboard.
 *
 * Charts are SVG drawn here (no library, no CDN). Each bar is a <g class="bar"> carrying
 * data-label and data-value, with its label and value as SVG text. Every value from the API
 * reaches the DOM as text.
 */
"use strict";

(() => {
  const K = window.Kindred;
  const { h, clear, setText, timeEl, humanize, showError, api, section } = K;
  const SVG = "http://www.w3.org/2000/svg";
  const VIEW = "dashboard-view";
  const WIDTH = 520; // the charts' viewBox width; they scale to their card
  const TEMP_LABELS = { warm: "Warm", hot: "Hot", cold: "Cold" };
  const STAGE_LABELS = {
    awareness: "Awareness",
    consideration: "Consideration",
    conversion: "Conversion",
    service: "Service",
    advocacy: "Advocacy",
  };

  let seq = 0;

  // ------------------------------------------------------------------ svg helpers

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "text") el.textContent = String(v);
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) if (c) el.append(c);
    return el;
  }

  function chart(label, height, ...children) {
    return s(
      "svg",
      {
        class: "chart",
        viewBox: `0 0 ${WIDTH} ${height}`,
        role: "img",
        "aria-label": label,
        preserveAspectRatio: "xMinYMin meet",
      },
      ...children,
    );
  }

  const pct = (share) => `${(100 * (share || 0)).toFixed(share > 0 && share < 0.1 ? 1 : 0)}%`;
  const num = (n) => Number(n || 0).toLocaleString();

  /** Horizontal bars: rows [{key, label, value, note, cls}], scaled to the largest value. */
  function hbars(label, rows, opts) {
    const o = opts || {};
    const rowH = 30;
    const labelW = o.labelWidth || 130;
    const noteW = o.noteWidth || 120;
    const barW = WIDTH - labelW - noteW - 10;
    const max = Math.max(1, ...rows.map((r) => r.value || 0));
    const bars = rows.map((r, i) => {
      const y = i * rowH + 4;
      const w = Math.max(r.value ? 2 : 0, Math.round((barW * (r.value || 0)) / max));
      return s(
        "g",
        { class: `bar ${r.cls || ""}`.trim(), "data-label": r.key, "data-value": r.value },
        s("title", { text: `${r.label}: ${num(r.value)}${r.note ? ` (${r.note})` : ""}` }),
        s("text", { class: "bar-label", x: 0, y: y + 15, text: r.label }),
        s("rect", { class: "bar-bg", x: labelW, y, width: barW, height: rowH - 10, rx: 3 }),
        s("rect", { class: "bar-fill", x: labelW, y, width: w, height: rowH - 10, rx: 3 }),
        s("text", {
          class: "bar-value",
          x: labelW + barW + 8,
          y: y + 15,
          text: `${num(r.value)}${r.note ? ` \u00b7 ${r.note}` : ""}`,
        }),
      );
    });
    return chart(label, rows.length * rowH + 4, bars);
  }

  // ------------------------------------------------------------------ cards

  function card(id, title, note, ...body) {
    return h(
      "section",
      { id, class: "card dash-card" },
      h("h2", null, title, note ? h("span", { class: "h-note" }, note) : null),
      ...body,
    );
  }

  function temperatureCard(d) {
    const t = d.temperature;
    const rows = t.groups.map((g) => ({
      key: g.value === null ? "unknown" : g.value,
      label: g.value === null ? "Not computed" : TEMP_LABELS[g.value] || humanize(g.value),
      value: g.profiles,
      note: pct(g.share),
      cls: `temp-${g.value === null ? "unknown" : g.value}`,
    }));
    const verdict = h(
      "p",
      { id: "temperature-verdict", class: `verdict ${t.healthy ? "ok" : "bad"}` },
      t.healthy ? "\u2713 " : "\u26a0 ",
      humanize(t.verdict),
    );
    return card(
      "temperature-card",
      "Temperature",
      "healthy order: warm > hot > cold",
      hbars("Profiles per temperature", rows),
      verdict,
      h(
        "p",
        { class: "muted small" },
        "Cold: does not know us yet \u00b7 warm: knows us, not buying now \u00b7 hot: bought at least once.",
      ),
    );
  }

  function lifecycleCard(d) {
    const rows = d.lifecycle.map((g) => ({
      key: g.value === null ? "unknown" : g.value,
      label: g.value === null ? "Not computed" : humanize(g.value),
      value: g.profiles,
      note: pct(g.share),
      cls: "life",
    }));
    return card(
      "lifecycle-card",
      "Lifecycle mix",
      null,
      rows.length ? hbars("Profiles per lifecycle stage", rows) : h("p", { class: "muted" }, "No profiles yet."),
    );
  }

  function activityCard(d) {
    const a = d.activity;
    const rows = [
      { key: "30d", label: "Last 30 days", value: a.active_30d, note: pct(a.share_30d), cls: "active" },
      { key: "90d", label: "Last 90 days", value: a.active_90d, note: pct(a.share_90d), cls: "active" },
    ];
    // scaled to the customers, not to the larger bar: the bar is the share
    const chartEl = hbars("Customers active in a period", [
      ...rows,
      { key: "customers", label: "All customers", value: a.customers, note: "100%", cls: "total" },
    ]);
    return card(
      "activity-card",
      "Active customers",
      "share of customers who interacted in the period",
      a.customers
        ? chartEl
        : h("p", { class: "muted" }, "No customers yet (lifecycle active, re-acquired, lapsing or inactive)."),
      h(
        "p",
        { class: "kpi" },
        h("strong", { id: "active-90-share" }, pct(a.share_90d)),
        ` of ${num(a.customers)} customers active in the last 90 days, `,
        h("strong", { id: "active-30-share" }, pct(a.share_30d)),
        " in the last 30.",
      ),
    );
  }

  function funnelCard(d) {
    const stages = d.journey.filter((x) => x.stage !== null);
    const none = d.journey.find((x) => x.stage === null);
    const rowH = 34;
    const max = Math.max(1, ...stages.map((x) => x.profiles));
    const labelW = 120;
    const noteW = 150;
    const barW = WIDTH - labelW - noteW - 10;
    const bars = stages.map((x, i) => {
      const y = i * rowH + 4;
      const w = Math.max(x.profiles ? 2 : 0, Math.round((barW * x.profiles) / max));
      const sw = x.profiles ? Math.round((w * x.stuck) / x.profiles) : 0;
      const left = labelW + (barW - w) / 2; // centred: a funnel
      const note = x.stuck_after_days === null ? "" : `${num(x.stuck)} stuck > ${x.stuck_after_days} d`;
      return s(
        "g",
        {
          class: "bar stage",
          "data-label": x.stage,
          "data-value": x.profiles,
          "data-stuck": x.stuck,
        },
        s("title", {
          text: `${STAGE_LABELS[x.stage] || x.stage}: ${num(x.profiles)} profiles${note ? `, ${note}` : ""}`,
        }),
        s("text", { class: "bar-label", x: 0, y: y + 17, text: STAGE_LABELS[x.stage] || humanize(x.stage) }),
        s("rect", { class: "bar-fill", x: left, y, width: w, height: rowH - 10, rx: 3 }),
        sw ? s("rect", { class: "bar-stuck", x: left, y, width: sw, height: rowH - 10, rx: 3 }) : null,
        s("text", {
          class: "bar-value",
          x: labelW + barW + 8,
          y: y + 17,
          text: num(x.profiles) + (note ? ` \u00b7 ${note}` : ""),
        }),
      );
    });
    const stuckTotal = stages.reduce((n, x) => n + x.stuck, 0);
    return card(
      "funnel-card",
      "Journey funnel",
      "furthest stage reached; stuck = in it longer than the configured days",
      chart("Profiles per journey stage with stuck counts", stages.length * rowH + 4, bars),
      h(
        "p",
        { class: "legend small" },
        h("span", { class: "swatch swatch-fill" }),
        " in the stage ",
        h("span", { class: "swatch swatch-stuck" }),
        " stuck",
        ` \u00b7 ${num(stuckTotal)} stuck in all`,
        none ? ` \u00b7 ${num(none.profiles)} without a stage yet` : "",
      ),
    );
  }

  function complaintsCard(d) {
    const rows = d.complaints.map((c) => ({
      key: c.channel,
      label: humanize(c.channel),
      value: c.overdue,
      note: `${num(c.open)} open \u00b7 ${num(c.answered_late)} late \u00b7 ${fmtMinutes(c.deadline_minutes)}`,
      cls: c.overdue ? "overdue" : "ontime",
    }));
    const total = d.complaints.reduce((n, c) => n + c.overdue, 0);
    const late = d.complaints.reduce((n, c) => n + c.answered_late, 0);
    return card(
      "complaints-card",
      "Complaints past their deadline",
      "open cases past the channel's response deadline, now",
      hbars("Open complaints past their deadline per channel", rows, { labelWidth: 100, noteWidth: 190 }),
      h(
        "p",
        { class: "kpi" },
        h("strong", { id: "complaints-overdue" }, num(total)),
        " overdue now; ",
        num(late),
        " answered after the deadline.",
      ),
    );
  }

  function fmtMinutes(m) {
    if (m < 60) return `${m} min`;
    if (m < 1440) return `${Math.round(m / 60)} h`;
    return `${Math.round(m / 1440)} d`;
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined) return "\u2014";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
    return `${Math.round(seconds / 86400)} d`;
  }

  function ingestCard(d) {
    const ing = d.ingest;
    const height = 110;
    const top = 8;
    const plotH = height - 30;
    const colW = WIDTH / ing.minutes.length;
    const max = Math.max(1, ...ing.minutes.map((m) => m.events));
    const cols = ing.minutes.map((m, i) => {
      const hgt = Math.round((plotH * m.events) / max);
      return s(
        "g",
        { class: "col", "data-value": m.events },
        s("title", { text: `${new Date(m.minute).toLocaleTimeString()}: ${num(m.events)} events` }),
        s("rect", {
          class: "bar-fill",
          x: (i * colW + 0.5).toFixed(1),
          y: top + plotH - hgt,
          width: Math.max(1, colW - 1).toFixed(1),
          height: hgt,
        }),
      );
    });
    const axis = [
      s("line", { class: "axis", x1: 0, x2: WIDTH, y1: top + plotH + 0.5, y2: top + plotH + 0.5 }),
      s("text", { class: "axis-label", x: 0, y: height - 6, text: "60 min ago" }),
      s("text", { class: "axis-label", x: WIDTH, y: height - 6, "text-anchor": "end", text: "now" }),
      s("text", { class: "axis-label", x: 0, y: top + 10, text: `max ${num(max)}/min` }),
    ];
    return card(
      "ingest-card",
      "Ingest rate",
      "events stored per minute, last hour",
      h(
        "p",
        { class: "kpi" },
        h("strong", { id: "ingest-rate" }, Number(ing.per_minute).toLocaleString()),
        " events/min",
        ` \u00b7 ${num(ing.events_last_hour)}${ing.capped ? "+" : ""} in the last hour`,
      ),
      chart("Events stored per minute over the last hour", height, cols, axis),
    );
  }

  function pipelineCard(d) {
    const p = d.pipeline;
    const fact = (id, label, value, note) =>
      h("div", null, h("dt", null, label), h("dd", { id }, value, note ? h("span", { class: "muted small" }, ` ${note}`) : null));
    const lagging = p.unresolved_records > 0 || p.stale_profiles > 0;
    return card(
      "pipeline-card",
      "Pipeline lag",
      "what is waiting to be resolved and materialised",
      h(
        "dl",
        { class: "facts dash-facts" },
        fact("lag-unresolved", "Unresolved records", num(p.unresolved_records)),
        fact("lag-unresolved-age", "Oldest unresolved", fmtAge(p.oldest_unresolved_age_seconds)),
        fact("lag-stale", "Profiles to refresh", num(p.stale_profiles)),
        fact("lag-stale-age", "Oldest to refresh", fmtAge(p.oldest_stale_age_seconds)),
        fact("lag-dlq", "Dead letters pending", num(p.dead_letters_pending)),
      ),
      h(
        "p",
        { class: `verdict ${lagging ? "warn" : "ok"}` },
        lagging ? "Backlog: the workers are catching up." : "\u2713 No backlog: everything received is resolved and materialised.",
        " ",
        h("a", { href: `${K.ROOT}/ui/dlq` }, "Dead letters"),
        " \u00b7 ",
        h("a", { href: `${K.ROOT}/ui/sources` }, "Sources"),
      ),
    );
  }

  // ------------------------------------------------------------------ page

  async function showDashboard() {
    document.title = "Dashboard \u00b7 Kindred";
    const view = section(VIEW);
    const mine = ++seq;
    clear(view);
    const status = h("p", { id: "dashboard-status", class: "muted" }, "Loading\u2026");
    const head = h(
      "header",
      { class: "card dash-head" },
      h("h1", null, "How healthy is our base"),
      status,
    );
    view.append(head);
    let d;
    try {
      d = await api("/v1/dashboard");
    } catch (err) {
      if (mine !== seq) return;
      setText(status, "The dashboard is not available.");
      showError("Could not load the dashboard", err);
      return;
    }
    if (mine !== seq) return;
    clear(status);
    status.append(
      h("strong", { id: "dashboard-profiles" }, num(d.profiles)),
      " live profiles \u00b7 figures as of ",
      timeEl(d.base_computed_at || d.generated_at, false),
    );
    if (d.base_source === "snapshot") {
      status.append(
        h(
          "span",
          { id: "dashboard-snapshot", class: "small" },
          " (recomputed by the profiles worker every minute or so; ingest and pipeline are live)",
        ),
      );
    }
    const grid = h(
      "div",
      { id: "dashboard-grid", class: "dash-grid" },
      temperatureCard(d),
      lifecycleCard(d),
      activityCard(d),
      funnelCard(d),
      complaintsCard(d),
      ingestCard(d),
      pipelineCard(d),
    );
    view.append(grid);
    view.dataset.ready = "true";
  }

  K.page({
    name: "dashboard",
    view: VIEW,
    match: (path) => (path === "/ui/dashboard" ? {} : null),
    show: () => {
      const view = section(VIEW);
      delete view.dataset.ready;
      showDashboard();
    },
  });
})();
