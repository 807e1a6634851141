/* Trade journal page: filters (time range in the display time zone), account history status, totals, P&L charts
   (per day / week / month, cumulative, per symbol), the per-symbol table and the trades (table; cards on a phone). */
"use strict";

(() => {
  const form = document.getElementById("journal-filters");
  const errorBox = document.getElementById("journal-error");
  const csvLink = document.getElementById("journal-csv");
  const charts = {};
  let data = null;
  let period = "day";

  function tzOffset(date, tz) {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(date);
    const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - date.getTime();
  }

  // A datetime-local value read as wall time in the display time zone, as an ISO instant in UTC.
  function zonedToIso(value) {
    if (!value) return "";
    const asUtc = new Date(value.length === 16 ? value + ":00Z" : value + "Z");
    if (Number.isNaN(asUtc.getTime())) return null;
    let instant = asUtc.getTime() - tzOffset(asUtc, RM.tz);
    instant = asUtc.getTime() - tzOffset(new Date(instant), RM.tz);
    return new Date(instant).toISOString();
  }

  function params() {
    const out = new URLSearchParams();
    for (const name of ["account", "side", "reason"]) if (form.elements[name].value) out.set(name, form.elements[name].value);
    const symbol = form.elements.symbol.value.trim();
    if (symbol) out.set("symbol", symbol);
    for (const name of ["from", "to"]) {
      const iso = zonedToIso(form.elements[name].value);
      if (iso === null) throw new Error(`${name}: not a valid time`);
      if (iso) out.set(name, iso);
    }
    return out;
  }

  const unknown = (title) => RM.html`<span class="text-body-secondary" title="${title}">unknown</span>`;
  const usdt = (v) => (v === null || v === undefined ? "—" : `${RM.num(v, 2)} USDT`);

  function duration(s) {
    if (s === null || s === undefined) return null;
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return `${d} d ${h} h`;
    if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
    if (m) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
    return `${s} s`;
  }

  function renderAccounts(v) {
    RM.fill(document.getElementById("journal-accounts"), v.accounts.map((a) => a.available
      ? RM.html`<span class="badge text-bg-secondary me-1" title="history read at ${RM.dateTime(a.checked_at)}">${a.account} (${a.exchange}): ${a.trades} trade(s)</span>`
      : RM.html`<div class="alert alert-warning py-1 px-2 mb-1 small journal-unavailable" data-account="${a.account}"><strong>${a.account}</strong>: history unavailable since ${RM.dateTime(a.unavailable_since)} — ${a.reason}. ${a.stored_only ? `Only the ${a.trades} close(s) stored by earlier reads are shown; later ones are missing from the figures below.` : "Its trades are not in the figures below."}</div>`));
  }

  function renderTotals(v) {
    const t = v.stats.totals;
    const pnl = RM.signed(t.realized_pnl, 2, " USDT");
    const el = document.getElementById("t-pnl");
    el.textContent = pnl.text + (v.complete ? "" : " (incomplete)");
    el.className = `fs-5 num ${pnl.cls}`;
    el.title = v.complete ? "all accounts' history was read" : "some accounts' history is unavailable (see above)";
    document.getElementById("t-count").textContent = `${t.trades} (${t.wins} / ${t.losses})`;
    document.getElementById("t-winrate").textContent = t.win_rate_pct === null ? "—" : `${t.win_rate_pct} %`;
    const fees = t.fees === null ? "unknown" : usdt(t.fees);
    const funding = t.funding === null ? "unknown" : RM.signed(t.funding, 2, " USDT").text;
    document.getElementById("t-fees").textContent = `${fees} / ${funding}`;
    document.getElementById("t-fees").title = `fees known for ${t.fees_known_for} of ${t.trades} trade(s); funding for ${t.funding_known_for}`;
  }

  function cell(value, fmt, why) { return value === null || value === undefined ? unknown(why) : fmt(value); }

  function tradeRow(t) {
    const pnl = RM.signed(t.realized_pnl, 2);
    const pct = RM.signed(t.pnl_pct, 2, " %");
    const why = `${t.exchange} does not report this figure in its closed-trade history`;
    const signal = t.signal ? RM.html`<span title="${t.signal.key}">${t.signal.rule} ${t.signal.timeframe} (${t.signal.confidence} %)</span>` : (t.opened_by ? t.opened_by : "—");
    return RM.html`<tr data-id="${t.id}"><td class="num">${RM.dateTime(t.exit_time)}</td><td>${t.account}</td>
      <td>${t.symbol || "unknown"}</td><td>${t.side || "unknown"}</td>
      <td class="num">${cell(t.entry_time, RM.dateTime, why)}</td>
      <td class="text-end num">${cell(t.entry_price, RM.price, why)}</td><td class="text-end num">${cell(t.exit_price, RM.price, why)}</td>
      <td class="text-end num">${cell(t.qty, RM.qty, why)}</td>
      <td class="text-end num ${pnl.cls}" title="${t.pnl_basis}">${pnl.text}</td>
      <td class="text-end num ${pct.cls}">${cell(t.pnl_pct, () => pct.text, "entry notional unknown")}</td>
      <td class="text-end num">${cell(t.fees, (x) => RM.num(x, 2), why)}</td>
      <td class="text-end num">${cell(t.funding, (x) => RM.signed(x, 2).text, why)}</td>
      <td class="text-end num">${cell(duration(t.duration_seconds), (x) => x, "entry time unknown")}</td>
      <td title="${t.exit_detail}">${t.exit_reason_label}</td><td class="small">${signal}</td></tr>`;
  }

  function tradeCard(t) {
    const pnl = RM.signed(t.realized_pnl, 2, " USDT");
    const pct = t.pnl_pct === null ? "" : ` (${RM.signed(t.pnl_pct, 2, " %").text})`;
    const prices = t.entry_price === null ? "entry / exit unknown" : `${RM.price(t.entry_price)} → ${RM.price(t.exit_price)}, size ${RM.qty(t.qty)}`;
    return RM.html`<div class="card card-body p-2 mb-2 trade-card" data-id="${t.id}">
      <div class="d-flex justify-content-between"><strong>${t.symbol || "unknown"} ${t.side || ""}</strong>
        <span class="num ${pnl.cls}">${pnl.text}${pct}</span></div>
      <div class="small text-body-secondary">${t.account} · ${t.exit_reason_label} · ${RM.dateTime(t.exit_time)}</div>
      <div class="small num">${prices}${t.duration_seconds === null ? "" : ` · held ${duration(t.duration_seconds)}`}</div></div>`;
  }

  function renderTrades(v) {
    const tbody = document.querySelector("#trades-table tbody");
    document.getElementById("trades-count").textContent = `${v.trades.length} trade(s)`;
    const empty = v.complete ? "No closed trades in this range." : "No closed trades among the accounts whose history could be read.";
    RM.fill(tbody, v.trades.length ? v.trades.map(tradeRow) : RM.html`<tr><td colspan="15" class="text-body-secondary">${empty}</td></tr>`);
    RM.fill(document.getElementById("trades-cards"), v.trades.length ? v.trades.map(tradeCard) : RM.html`<div class="text-body-secondary small">${empty}</div>`);
  }

  function renderSymbols(v) {
    const tbody = document.querySelector("#symbol-table tbody");
    RM.fill(tbody, v.stats.per_symbol.length ? v.stats.per_symbol.map((s) => {
      const pnl = RM.signed(s.realized_pnl, 2);
      return RM.html`<tr><td>${s.symbol || "unknown"}</td><td class="text-end">${s.trades}</td>
        <td class="text-end">${s.win_rate_pct === null ? "—" : s.win_rate_pct + " %"}</td>
        <td class="text-end num ${pnl.cls}">${pnl.text}</td>
        <td class="text-end num" title="over ${s.avg_pnl_pct_over} trade(s) with a known entry">${s.avg_pnl_pct === null ? "unknown" : RM.signed(s.avg_pnl_pct, 2, " %").text}</td>
        <td class="text-end num">${RM.signed(s.best, 2).text}</td><td class="text-end num">${RM.signed(s.worst, 2).text}</td></tr>`;
    }) : RM.html`<tr><td colspan="7" class="text-body-secondary">No trades.</td></tr>`);
  }

  const colours = (values) => values.map((x) => (x >= 0 ? "rgba(25, 135, 84, .8)" : "rgba(220, 53, 69, .8)"));
  const yAxis = { ticks: { callback: (x) => `${RM.num(x, Math.abs(x) >= 10000 ? 0 : 2)} USDT` } };

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
  }

  // "2026-12-02" (a day or the Monday of a week) or "2026-12" (a month) in the page's day/month/year order
  function periodLabel(key) {
    const [y, m, d] = key.split("-");
    if (!d) return `${m}/${y}`;
    return period === "week" ? `wk ${d}/${m}/${y}` : `${d}/${m}/${y}`;
  }

  function axisTime(ms, span) {
    const text = RM.dateTime(new Date(ms).toISOString());  // "dd/mm/yyyy, HH:MM:SS zone"
    return span > 2 * 86400000 ? text.slice(0, 10) : text.slice(12, 17);
  }

  function renderPeriods(v) {
    const rows = v.stats.periods[period];
    const values = rows.map((r) => Number(r.realized_pnl));
    document.getElementById("period-empty").textContent = rows.length ? `periods in ${v.display_timezone}; a period without a close has no bar` : "No closed trades in this range.";
    draw("period-chart", {
      type: "bar",
      data: { labels: rows.map((r) => periodLabel(r.period)), datasets: [{ label: "Realized P&L (USDT)", data: values, backgroundColor: colours(values) }] },
      options: { animation: false, maintainAspectRatio: false, scales: { y: yAxis, x: { ticks: { maxTicksLimit: 10, autoSkip: true } } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { afterLabel: (item) => `${rows[item.dataIndex].trades} trade(s)` } } } },
    });
  }

  function renderCumulative(v) {
    const points = v.stats.cumulative.map((p) => ({ x: new Date(p.time).getTime(), y: Number(p.realized_pnl) }));
    // the axis spans the range asked for, so one close is not stretched over years and a quiet spell shows as one
    const from = new Date(v.filter.from).getTime(), to = new Date(v.filter.to).getTime();
    if (points.length) points.unshift({ x: from, y: 0 });  // nothing realized yet at the start of the range
    draw("cumulative-chart", {
      type: "line",
      data: { datasets: [{ label: "Cumulative realized P&L (USDT)", data: points, stepped: true, pointRadius: 3, borderColor: "#0d6efd" }] },
      options: { animation: false, maintainAspectRatio: false, parsing: false,
        scales: { x: { type: "linear", min: from, max: to, ticks: { maxTicksLimit: 6, callback: (x) => axisTime(x, to - from) } }, y: yAxis },
        plugins: { legend: { display: false }, tooltip: { callbacks: { title: (items) => RM.dateTime(new Date(items[0].parsed.x).toISOString()) } } } },
    });
  }

  function renderSymbolChart(v) {
    const rows = v.stats.per_symbol;
    const values = rows.map((r) => Number(r.realized_pnl));
    draw("symbol-chart", {
      type: "bar",
      data: { labels: rows.map((r) => (r.symbol || "unknown").replace(":USDT", "")), datasets: [{ label: "Realized P&L (USDT)", data: values, backgroundColor: colours(values) }] },
      options: { animation: false, maintainAspectRatio: false, indexAxis: "y", scales: { x: yAxis }, plugins: { legend: { display: false } } },
    });
  }

  async function load() {
    errorBox.textContent = "";
    let query;
    try { query = params(); } catch (err) { errorBox.textContent = err.message; return; }
    csvLink.href = `/api/trades.csv?${query}`;
    let res;
    try {
      res = await RM.api(`/api/trades?${query}`);
    } catch (err) {
      errorBox.textContent = `The journal could not be loaded: ${err.message}`;
      return;
    }
    if (!res.ok) {
      const detail = res.data.detail;
      const text = !detail ? "" : typeof detail === "string" ? detail : detail.message || JSON.stringify(detail);
      errorBox.textContent = `${res.data.error}${text ? " — " + text : ""}`;
      return;
    }
    data = res.data;
    renderAccounts(data); renderTotals(data); renderTrades(data); renderSymbols(data);
    renderPeriods(data); renderCumulative(data); renderSymbolChart(data);
    document.body.dataset.journalLoaded = "1";
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  document.getElementById("period-buttons").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button[data-period]");
    if (!btn || !data) return;
    period = btn.dataset.period;
    document.querySelectorAll("#period-buttons button").forEach((b) => b.classList.toggle("active", b === btn));
    renderPeriods(data);
  });
  load();
})();
