/* Dashboard: refreshes from /api/snapshot every few seconds without reloading; equity chart from /api/equity. */
"use strict";

(() => {
  const cards = document.getElementById("account-cards");
  const pollMs = Math.max(2, Number(cards.dataset.pollSeconds || 5)) * 1000;
  const status = document.getElementById("refresh-status");
  let equityHours = 1;
  let chart = null;

  function figure(label, value, cls = "") {
    return RM.html`<dt class="col-6">${label}</dt><dd class="col-6 text-end num ${cls}">${value}</dd>`;
  }

  const withUnit = (text) => (text === "—" ? text : `${text} USDT`);

  // an inferred figure says so, with the venue's sum on hover
  function estimatedMark(a) {
    return a.equity_estimated
      ? RM.html` <span class="badge text-bg-secondary estimated-mark" title="estimated: ${a.equity_formula}">estimated</span>` : "";
  }

  function accountCard(a) {
    const stale = a.status !== "ok";
    const badge = { ok: "success", stale: "warning", error: "danger" }[a.status] || "secondary";
    const dayPnl = RM.signed(a.day_pnl);
    const upnl = RM.signed(a.unrealized_pnl);
    const figures = a.equity === null ? RM.html`<p class="text-body-secondary mb-0">No figures: the account has never been read successfully.</p>` : RM.html`
      <dl class="row kv mb-0 ${stale ? "stale" : ""}">
        ${figure("Equity", RM.html`${FMT.usdt(a.equity)}${estimatedMark(a)}`, "fw-semibold")}
        ${figure("Available", FMT.usdt(a.available))}
        ${figure("Margin used", FMT.usdt(a.margin_used))}
        ${figure("Unrealized P&L", withUnit(upnl.text), upnl.cls)}
        ${a.day_pnl_note ? figure("Today's P&L", RM.html`<span class="stale-note" title="the day's baseline is not from today">${a.day_pnl_note}</span>`)
    : figure("Today's P&L", withUnit(dayPnl.text) + (a.day_pnl_pct !== null ? ` (${RM.signed(a.day_pnl_pct, 2, " %").text})` : ""), dayPnl.cls)}
        ${figure("Drawdown from peak", a.drawdown_pct === null ? "—" : RM.num(a.drawdown_pct) + " %")}
      </dl>`;
    const age = stale
      ? RM.html`<div class="small ${a.status === "error" ? "error-note" : "stale-note"} age-note">${a.fetched_at ? "stale since " + RMLive.since(a.fetched_at) : "never read"} — ${a.error}</div>`
      : RM.html`<div class="small text-body-secondary age-note">data from ${RMLive.since(a.fetched_at)}</div>`;
    return RM.html`<div class="col-sm-6 col-xl-3"><div class="card h-100 account-card" data-account="${a.name}" data-status="${a.status}" data-fetched-at="${a.fetched_at || ""}">
      <div class="card-header d-flex justify-content-between align-items-center">
        <span><strong>${a.name}</strong> <span class="text-body-secondary small">${a.exchange} · ${a.mode}</span></span>
        <span class="badge text-bg-${badge}" data-live-status>${a.status}</span></div>
      <div class="card-body">${figures}${age}</div></div></div>`;
  }

  function totalsCard(t) {
    if (t && t.accounts_included === 0 && t.accounts_total) {
      return RM.html`<div class="col-sm-6 col-xl-3"><div class="card h-100 border-warning" id="totals-card">
        <div class="card-header"><strong>All accounts</strong></div>
        <div class="card-body small stale-note">No account has current figures: no sum is shown (${t.coverage}).</div></div></div>`;
    }
    if (!t || t.accounts_included === 0) return "";
    const dayNote = t.day_pnl_complete || !t.day_pnl_excluded ? "" : RM.html`<div class="small stale-note" id="totals-day-coverage">Today's P&L covers ${t.day_pnl_accounts.length} of ${t.accounts_total}: excludes ${t.day_pnl_excluded.map((e) => `${e.name}: ${e.reason}`).join(", ")}</div>`;
    const note = RM.html`${t.complete ? "" : RM.html`<div class="small stale-note" id="totals-coverage">${t.coverage}</div>`}${dayNote}`;
    const upnl = RM.signed(t.unrealized_pnl);
    const day = RM.signed(t.day_pnl);
    return RM.html`<div class="col-sm-6 col-xl-3"><div class="card h-100 border-info" id="totals-card">
      <div class="card-header"><strong>All accounts</strong> <span class="small text-body-secondary">${t.coverage ? t.coverage.split(";")[0] : `${t.accounts_included} account(s)`}</span></div>
      <div class="card-body"><dl class="row kv mb-0">
        ${figure("Equity", RM.html`${FMT.usdt(t.equity)}${totalsEstimated(t)}`, "fw-semibold")}
        ${figure("Available", FMT.usdt(t.available))}
        ${figure("Margin used", FMT.usdt(t.margin_used))}
        ${figure("Unrealized P&L", withUnit(upnl.text), upnl.cls)}
        ${figure("Today's P&L", withUnit(day.text), day.cls)}
        ${figure("Open positions", t.open_positions)}
      </dl>${note}</div></div></div>`;
  }

  function totalsEstimated(t) {
    const names = t.estimated_accounts || [];
    return names.length ? RM.html` <span class="badge text-bg-secondary estimated-mark" title="includes the estimated equity of ${names.join(", ")}">estimated</span>` : "";
  }

  let unprotectedSince = {};

  const duration = FMT.duration;

  function protectionCell(p, key) {
    if (!p.present) {
      const u = key && unprotectedSince[key];
      const since = u ? RM.html` <span class="small text-danger" title="since ${RM.dateTime(u.since)}">for ${duration(u.seconds)}</span>` : "";
      return RM.html`<span class="badge text-bg-danger">NONE</span>${since}`;
    }
    const partial = p.covers_full_size === false ? RM.html` <span class="badge text-bg-warning" title="does not cover the full size">partial</span>` : "";
    return RM.html`${RM.price(p.price)}${partial}`;
  }

  function positionRow(a, p) {
    const upnl = RM.signed(p.unrealized_pnl);
    const pct = RM.signed(p.pnl_pct, 2, " %");
    const level = { LOW: "secondary", HIGH: "warning", CRITICAL: "danger", PROFITABLE: "success" }[p.risk_level] || "secondary";
    const actions = window.RMControls ? RMControls.positionActions(a, p) : "";
    return RM.html`<tr class="${a.status !== "ok" ? "stale" : ""} ${p.stop_loss.present ? "" : "unprotected"}" data-symbol="${p.symbol}" data-key="${`${a.name}|${p.symbol}|${p.side}`}">
      <td>${a.name}</td><td>${p.symbol}</td>
      <td><span class="badge text-bg-${p.side === "long" ? "success" : "danger"}">${p.side}</span></td>
      <td class="text-end num">${RM.qty(p.size)}</td><td class="text-end num">${RM.price(p.entry_price)}</td>
      <td class="text-end num">${RM.price(p.mark_price)}</td><td class="text-end num">${RM.num(p.leverage, 0)}x</td>
      <td class="text-end num">${RM.price(p.liquidation_price)}</td>
      <td class="text-end num ${upnl.cls}">${withUnit(upnl.text)}</td><td class="text-end num ${pct.cls}">${pct.text}</td>
      <td><span class="badge text-bg-${level}">${p.risk_level}</span></td>
      <td>${protectionCell(p.stop_loss, `${a.name}|${p.symbol}|${p.side}`)}</td><td>${protectionCell(p.take_profit)}</td><td class="pos-actions" data-label="Actions">${actions}</td></tr>`;
  }

  function orderRow(a, o) {
    const flags = [o.reduce_only ? "reduce-only" : "", o.close_position ? "close-position" : ""].filter(Boolean).join(", ");
    return RM.html`<tr class="${a.status !== "ok" ? "stale" : ""}"><td>${a.name}</td><td>${o.symbol}</td><td>${o.type}</td><td>${o.side}</td>
      <td class="text-end num">${o.qty === null ? "all" : RM.qty(o.qty)}</td><td class="text-end num">${RM.price(o.price)}</td>
      <td class="text-end num">${RM.price(o.trigger_price)}</td><td>${flags}</td><td class="small">${o.client_id || ""}</td>
      <td class="order-actions" data-label="Actions">${window.RMControls ? RMControls.orderActions(a, o) : ""}</td></tr>`;
  }

  function render(snap) {
    RM.setBanner(snap.trading_state);
    unprotectedSince = Object.fromEntries((snap.unprotected || []).filter((u) => u.missing !== "take-profit")
      .map((u) => [`${u.account}|${u.symbol}|${u.side}`, u]));
    RM.fill(cards, RM.join([totalsCard(snap.totals), ...snap.accounts.map(accountCard)].filter(Boolean)) ||
      RM.html`<div class="col-12 text-body-secondary">No accounts configured.</div>`);
    const positions = snap.accounts.flatMap((a) => a.positions.map((p) => positionRow(a, p)));
    RM.fill(document.querySelector("#positions-table tbody"), RM.join(positions) ||
      RM.html`<tr><td colspan="14" class="text-body-secondary">No open positions.</td></tr>`);
    const orders = snap.accounts.flatMap((a) => a.orders.map((o) => orderRow(a, o)));
    RM.fill(document.querySelector("#orders-table tbody"), RM.join(orders) ||
      RM.html`<tr><td colspan="10" class="text-body-secondary">No open orders.</td></tr>`);
    // liveness: each row carries its account's read time, so it greys by itself if no refresh comes
    RMLive.stampRows(document.querySelector("#positions-table tbody"), snap.accounts.flatMap((a) => a.positions.map(() => a)));
    RMLive.stampRows(document.querySelector("#orders-table tbody"), snap.accounts.flatMap((a) => a.orders.map(() => a)));
    const cancelled = snap.entry_cancellations || [];
    const box = document.getElementById("entry-cancellations");
    RM.fill(box, cancelled.length ? RM.html`<strong>Resting entry orders cancelled (new risk stopped):</strong><ul class="mb-0">${
      cancelled.map((c) => RM.html`<li class="${c.failed ? "text-danger" : ""}">${RM.dateTime(c.ts)} · ${c.account}: ${c.message}</li>`)}</ul>` : "");
    box.classList.toggle("d-none", !cancelled.length);
    const unprotected = snap.accounts.flatMap((a) => a.positions.filter((p) => !p.stop_loss.present)).length;
    RM.fill(document.getElementById("unprotected-summary"), unprotected
      ? RM.html`<span class="badge text-bg-danger">${unprotected} without a stop-loss</span>` : "");
    if (window.RMControls) RMControls.afterRender(snap);
  }

  async function alertHealth() {
    const res = await RM.api("/api/alerts/status");
    const box = document.getElementById("alerts-health-banner");
    if (!box || !res.ok) return;
    const f = res.data.last_failure;
    if (res.data.healthy || !f) { box.classList.add("d-none"); return; }
    RM.fill(box, RM.html`Alert delivery failed at ${RM.dateTime(f.handled_at)} (${f.kind}): ${f.error} — <a href="/alerts">Alerts</a>`);
    box.classList.remove("d-none");
  }

  async function refresh() {
    const res = await RM.api("/api/snapshot");
    if (!res.ok) {
      RM.fill(status, RM.html`<span class="error-note">refresh failed at ${RM.time(new Date().toISOString())}: ${res.data.error}</span>`);
      return false;
    }
    render(res.data);
    status.textContent = `refreshed ${RM.time(res.data.generated_at)} · every ${pollMs / 1000} s`;
    status.dataset.generatedAt = res.data.generated_at;
    alertHealth();
  }

  // axis labels short enough not to overlap: the time within a day, the date and hour over a week
  function axisTime(v) {
    return equityHours > 24 ? FMT.dateTime(v, { zone: false, seconds: false }).slice(5) : FMT.time(v, { zone: false, seconds: false });
  }

  const palette = ["#6ea8fe", "#75b798", "#ffda6a", "#ea868f", "#c29ffa", "#6edff6"];

  async function refreshEquity() {
    const since = new Date(Date.now() - equityHours * 3600 * 1000).toISOString();
    const res = await RM.api(`/api/equity?since=${encodeURIComponent(since)}`);
    if (!res.ok) return false;
    // a gap longer than ~3 readings is drawn as a gap, not as a line across a period with no data
    const gapMs = (res.data.gap_seconds || 0) * 1000;
    const datasets = Object.entries(res.data.series).map(([name, points], i) => {
      const data = FMT.gapped(points.map((p) => ({ x: Date.parse(p.ts), y: Number(p.equity) })), gapMs);
      // a reading with no neighbour draws no line: show it as a dot rather than not at all
      const lone = (j) => data[j].y !== null && (data[j - 1]?.y ?? null) === null && (data[j + 1]?.y ?? null) === null;
      return {
        label: name, data, pointRadius: data.map((_, j) => (lone(j) ? 2.5 : 0)),
        borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
        borderWidth: 1.5, tension: 0.1, spanGaps: false,
      };
    });
    if (!chart) {
      chart = new Chart(document.getElementById("equity-chart"), {
        type: "line", data: { datasets },
        options: {
          animation: false, maintainAspectRatio: false, parsing: false,
          scales: {
            x: { type: "linear", min: Date.parse(since), max: Date.now(), title: { display: true, text: `time (${FMT.tz})` },
              ticks: { callback: (v) => axisTime(v), maxTicksLimit: window.innerWidth < 576 ? 4 : 6, maxRotation: 0, autoSkip: true,
                autoSkipPadding: 16 } },
            y: { title: { display: true, text: "equity (USDT)" },
              ticks: { callback: (v) => FMT.decimal(v, Math.abs(v) >= 100000 ? 0 : 2), maxTicksLimit: window.innerWidth < 576 ? 5 : 8 } },
          },
          plugins: { tooltip: { callbacks: {
            title: (items) => FMT.dateTime(items[0].parsed.x),
            label: (item) => `${item.dataset.label}: ${FMT.usdt(item.raw.y)}`,
          } } },
        },
      });
    } else {
      chart.options.scales.x.ticks.callback = (v) => axisTime(v);
      Object.assign(chart.options.scales.x, { min: Date.parse(since), max: Date.now() });
      chart.data.datasets = datasets;
      chart.update("none");
    }
  }

  document.getElementById("equity-range").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-hours]");
    if (!btn) return;
    equityHours = Number(btn.dataset.hours);
    document.querySelectorAll("#equity-range button").forEach((b) => b.classList.toggle("active", b === btn));
    equityPoller.now();
  });

  const poller = RM.poll(refresh, { every: pollMs });
  const equityPoller = RM.poll(refreshEquity, { every: Math.max(pollMs, 10000) });
  // position controls (static/js/position_controls.js) refresh after acting
  window.RMDashboard = { refresh: () => poller.now() };
})();
