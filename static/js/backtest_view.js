/* Backtests page, the result side: statistics, charts (equity with drawdown, price with trade markers), denials,
   risk-engine events, the trades table and the side-by-side comparison of two runs. Exposes window.BTView. */
"use strict";

window.BTView = (() => {
  const charts = {};
  const GRID = "rgba(255,255,255,0.08)";
  if (window.Chart) { Chart.defaults.color = "#adb5bd"; Chart.defaults.borderColor = GRID; }

  const STAT_ROWS = [
    ["Total return", "total_return_pct", "pct"], ["CAGR", "cagr_pct", "pct"],
    ["Max drawdown", "max_drawdown_pct", "pct"], ["Max DD duration", "max_drawdown_duration_s", "dur"],
    ["Longest drawdown", "longest_drawdown_s", "dur"], ["Sharpe", "sharpe", "ratio"], ["Sortino", "sortino", "ratio"],
    ["Calmar", "calmar", "ratio"], ["Win rate", "win_rate_pct", "pct"], ["Profit factor", "profit_factor", "ratio"],
    ["Expectancy", "expectancy", "usdt"], ["Exposure", "exposure_pct", "pct"], ["Trades", "trades", "int"],
    ["Longest losing streak", "longest_losing_streak", "int"], ["Fees paid", "fees_paid", "usdt"],
    ["Funding", "funding", "usdt"], ["Final equity", "final_equity", "usdt"], ["Signals seen", "signals", "int"],
  ];

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
    const parts = [];
    if (d) parts.push(`${d} d`);
    if (h) parts.push(`${h} h`);
    if (m || !parts.length) parts.push(`${m} min`);
    return parts.join(" ");
  }

  function fmt(value, kind) {
    if (value === null || value === undefined) return "—";
    if (kind === "pct") return RM.num(value, 2) + " %";
    if (kind === "ratio") return RM.num(value, 2);
    if (kind === "usdt") return RM.num(value, 2) + " USDT";
    if (kind === "dur") return duration(value);
    return String(value);
  }

  function signClass(key, value) {
    if (value === null || value === undefined) return "";
    if (["total_return_pct", "cagr_pct", "expectancy", "sharpe", "sortino", "calmar"].includes(key)) {
      return Number(value) > 0 ? "pos" : Number(value) < 0 ? "neg" : "";
    }
    return "";
  }

  function statText(stats, key, kind) {
    const text = fmt(stats[key], kind);
    if (key === "max_drawdown_duration_s" && stats.max_drawdown_pct > 0 && !stats.max_drawdown_recovered_at) return `${text} (not recovered)`;
    return text;
  }

  function renderStats(stats) {
    const box = document.getElementById("bt-stats");
    RM.fill(box, STAT_ROWS.map(([label, key, kind]) => {
      const note = stats.notes && stats.notes[key] ? RM.html` title="${stats.notes[key]}"` : "";
      return RM.html`<div class="col-6 col-md-4 col-xl-3"><div class="border rounded px-2 py-1"${note}>
        <div class="small text-body-secondary">${label}${note ? " *" : ""}</div>
        <div class="fw-semibold num ${signClass(key, stats[key])}">${statText(stats, key, kind)}</div></div></div>`;
    }));
    const notes = Object.entries(stats.notes || {}).map(([k, v]) => `${k}: ${v}`);
    RM.fill(document.getElementById("bt-notes"), notes.length ? "* " + notes.join(" · ") : "");
  }

  function timeAxis() {
    return { type: "linear", ticks: { maxTicksLimit: 7, callback: (v) => FMT.dateTime(v, { zone: false, seconds: false }).slice(5) } };
  }

  function lineChart(id, datasets, options = {}) {
    if (charts[id]) charts[id].destroy();
    const ctx = document.getElementById(id);
    charts[id] = new Chart(ctx, {
      type: "scatter",
      data: { datasets },
      options: Object.assign({
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
        interaction: { mode: "nearest", intersect: false },
        scales: { x: timeAxis() },
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: { callbacks: { title: (items) => items.length ? RM.dateTime(new Date(items[0].parsed.x).toISOString()) : "" } },
        },
      }, options),
    });
    return charts[id];
  }

  function points(ts, values) { return ts.map((t, i) => ({ x: t, y: values[i] })); }

  function renderCharts(result) {
    const c = result.curve;
    lineChart("bt-equity-chart", [{ label: "Equity (USDT)", data: points(c.t, c.equity), showLine: true, pointRadius: 0,
      borderColor: "#6ea8fe", borderWidth: 1.5 }], { plugins: { legend: { display: false },
      title: { display: true, text: "Equity at each close (USDT)" } } });
    lineChart("bt-dd-chart", [{ label: "Drawdown %", data: points(c.t, c.drawdown_pct.map((d) => -d)), showLine: true,
      pointRadius: 0, borderColor: "#ea868f", backgroundColor: "rgba(234,134,143,0.25)", fill: "origin", borderWidth: 1 }],
      { plugins: { legend: { display: false }, title: { display: true, text: "Drawdown from peak (%)" } } });
    const m = result.markers;
    const longs = m.entries.filter((e) => e.side > 0), shorts = m.entries.filter((e) => e.side < 0);
    lineChart("bt-price-chart", [
      { label: "Close", data: points(result.price.t, result.price.close), showLine: true, pointRadius: 0, borderColor: "#adb5bd", borderWidth: 1 },
      { label: "Long entry", data: longs.map((e) => ({ x: e.t, y: e.price, n: e.n })), pointStyle: "triangle", pointRadius: 5, backgroundColor: "#75b798", borderColor: "#75b798" },
      { label: "Short entry", data: shorts.map((e) => ({ x: e.t, y: e.price, n: e.n })), pointStyle: "triangle", rotation: 180, pointRadius: 5, backgroundColor: "#ea868f", borderColor: "#ea868f" },
      { label: "Exit", data: m.exits.map((e) => ({ x: e.t, y: e.price, n: e.n, reason: e.reason })), pointStyle: "crossRot", pointRadius: 5, borderColor: "#ffda6a", borderWidth: 2 },
    ], { plugins: { title: { display: true, text: "Price with trade markers" }, tooltip: { callbacks: {
      title: (items) => items.length ? RM.dateTime(new Date(items[0].parsed.x).toISOString()) : "",
      label: (item) => `${item.dataset.label}${item.raw.n ? " #" + item.raw.n : ""}${item.raw.reason ? " (" + item.raw.reason + ")" : ""}: ${RM.price(item.parsed.y)}`,
    } } } });
    document.getElementById("bt-markers-note").textContent = m.shown < m.total
      ? `Markers show the first ${m.shown} of ${m.total} trades; every trade is in the table and the CSV export.` : "";
  }

  function renderTables(result) {
    const den = result.denials;
    RM.fill(document.querySelector("#bt-denials tbody"), den.length ? den.map((d) => RM.html`<tr><td>${RM.rule(d.rule)}</td>
      <td class="text-end num">${d.count}</td><td class="small">${d.first_reason} <span class="text-body-secondary">(first ${RM.dateTime(d.first_at)})</span></td></tr>`)
      : RM.html`<tr><td colspan="3" class="text-body-secondary">No signal was turned down.</td></tr>`);
    const ev = result.events;
    const more = result.events_total > ev.length ? RM.html`<tr><td colspan="3" class="text-body-secondary">…and ${result.events_total - ev.length} more (counts: ${JSON.stringify(result.event_counts)})</td></tr>` : "";
    RM.fill(document.querySelector("#bt-events tbody"), ev.length ? ev.map((e) => RM.html`<tr><td class="text-nowrap small">${RM.dateTime(e.at)}</td>
      <td>${e.kind}</td><td class="small">${e.message}</td></tr>`).concat([more])
      : RM.html`<tr><td colspan="3" class="text-body-secondary">No state change, forced close or alert.</td></tr>`);
    const open = result.open_position;
    RM.fill(document.getElementById("bt-open-position"), open ? RM.html`<span class="badge text-bg-info">open at the end</span>
      ${open.side} ${open.qty} from ${RM.price(open.entry_price)} (${RM.dateTime(open.entry_time)}), marked at ${RM.price(open.mark_price)}:
      unrealized ${RM.num(open.unrealized_pnl, 2)} USDT — counted in the final equity, not among the trades.` : "");
  }

  function renderTrades(page) {
    const rows = page.rows.map((t) => {
      const pnl = RM.signed(t.net_pnl, 2);
      // short times (the full one on hover) so that Net P&L stays in view at 1440 px
      const short = (iso) => RM.html`<span title="${RM.dateTime(iso)}">${FMT.dateTime(iso, { zone: false, seconds: false }).slice(2)}</span>`;
      return RM.html`<tr><td>${t.n}</td><td>${t.side}</td><td class="text-nowrap small">${short(t.entry_time)}</td>
        <td class="text-end">${RM.price(t.entry_price)}</td><td class="text-end">${RM.qty(t.qty)}</td>
        <td class="text-nowrap small">${short(t.exit_time)}</td><td class="text-end">${RM.price(t.exit_price)}</td>
        <td class="small">${String(t.exit_reason || "").replace(/_/g, " ")}</td><td class="text-end">${RM.num(t.fees, 2)}</td>
        <td class="text-end ${pnl.cls}">${pnl.text}</td><td class="text-end">${t.bars}</td></tr>`;
    });
    RM.fill(document.querySelector("#bt-trades tbody"), RM.join(rows) || RM.html`<tr><td colspan="11" class="text-body-secondary">No closed trade.</td></tr>`);
    const last = Math.min(page.offset + page.rows.length, page.total);
    document.getElementById("bt-trades-count").textContent = `(${page.total} closed)`;
    document.getElementById("bt-trades-page").textContent = page.total ? `showing ${page.offset + 1}–${last} of ${page.total}` : "";
    document.getElementById("bt-trades-prev").disabled = page.offset <= 0;
    document.getElementById("bt-trades-next").disabled = last >= page.total;
  }

  function renderRun(run) {
    const r = run.result, d = r.data;
    document.getElementById("bt-result-card").classList.remove("d-none");
    document.getElementById("bt-result-title").textContent =
      `Run #${run.id} · ${run.preset || "custom"} · ${run.symbol} ${run.timeframe}`;
    const gaps = d.gaps.count ? ` · ${d.gaps.count} gap(s), ${d.gaps.missing_bars} bar(s) missing (first after ${RM.dateTime(d.gaps.first[0].after)})` : " · no gaps";
    RM.fill(document.getElementById("bt-result-data"), RM.html`${d.simulated ? RM.html`<span class="badge text-bg-warning">DEMO data</span> ` : ""}
      ${d.note} · ${RM.dateTime(r.stats.start)} – ${RM.dateTime(r.stats.end)} · ${d.bars} bars (+${d.warmup_bars} warm-up)${gaps}
      · contract: ${d.spec_source} · ran in ${d.seconds} s${d.warning ? RM.html`<div class="stale-note">${d.warning}</div>` : ""}`);
    for (const [id, path] of [["bt-export-trades", "export.csv?what=trades"], ["bt-export-equity", "export.csv?what=equity"], ["bt-export-json", "export.json"]]) {
      document.getElementById(id).href = `/api/backtests/${run.id}/${path}`;
    }
    renderStats(r.stats);
    renderCharts(r);
    renderTables(r);
    renderTrades(r.trades);
  }

  function renderCompare(a, b) {
    const card = document.getElementById("bt-compare-card");
    card.classList.remove("d-none");
    const head = (run) => RM.html`#${run.id} ${run.preset || "custom"}<div class="small text-body-secondary">${run.symbol} ${run.timeframe}, ${RM.dateTime(run.start)} – ${RM.dateTime(run.end)}</div>`;
    RM.fill(card.querySelector("thead"), RM.html`<tr><th></th><th>A: ${head(a)}</th><th>B: ${head(b)}</th></tr>`);
    RM.fill(card.querySelector("tbody"), STAT_ROWS.map(([label, key, kind]) => RM.html`<tr><td>${label}</td>
      <td class="${signClass(key, a.result.stats[key])}">${statText(a.result.stats, key, kind)}</td>
      <td class="${signClass(key, b.result.stats[key])}">${statText(b.result.stats, key, kind)}</td></tr>`));
    const pct = (run) => {
      const cap = Number(run.result.stats.capital);
      return points(run.result.curve.t, run.result.curve.equity.map((e) => (e / cap - 1) * 100));
    };
    lineChart("bt-compare-chart", [
      { label: `A #${a.id}`, data: pct(a), showLine: true, pointRadius: 0, borderColor: "#6ea8fe", borderWidth: 1.5 },
      { label: `B #${b.id}`, data: pct(b), showLine: true, pointRadius: 0, borderColor: "#ffda6a", borderWidth: 1.5 },
    ], { plugins: { title: { display: true, text: "Return on capital (%)" } } });
    card.scrollIntoView({ behavior: "smooth" });
  }

  return { renderRun, renderTrades, renderCompare, fmt, duration };
})();
