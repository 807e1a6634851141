/* Signals page: ranked signals with their score parts, dropped ones with reasons, a chart per signal,
   the history of every signal, and the auto-trading policy. Data from /api/signals*. */
"use strict";

(() => {
  const root = document.getElementById("signals-root");
  const refreshMs = Math.max(15, Number(root.dataset.signalSeconds || 60) / 2) * 1000;
  const status = document.getElementById("scan-status");
  const scanButton = document.getElementById("scan-now");
  const progress = document.getElementById("scan-progress");
  const errorBox = document.getElementById("scan-error");
  let priceChart = null;
  let rsiChart = null;
  let chartSymbol = null;
  let autoScanTried = false;
  let scanning = false;

  const annotation = window["chartjs-plugin-annotation"];
  if (window.Chart && annotation) Chart.register(annotation);

  const SIDE_BADGE = { long: "success", short: "danger" };
  const STATUS_BADGE = { active: "primary", taken: "success", denied: "warning", rejected: "danger", expired: "secondary", dropped: "secondary" };

  function badge(text, kind, title = "") {
    return RM.html`<span class="badge text-bg-${kind}"${title ? RM.html` title="${title}"` : ""}>${text}</span>`;
  }

  function componentsCell(parts, max) {
    return RM.join(Object.entries(parts).map(([name, points]) =>
      RM.html`<span class="text-nowrap me-1">${name} <span class="num">${points}/${max[name] ?? "?"}</span></span>`), " ");
  }

  let partLabels = {};
  const partLabel = (name) => partLabels[name] || name.replace("_", " ");

  // the score is taken over the parts that have data; a missing part is named with why, never given points
  function qualityCell(q) {
    const parts = RM.join(Object.entries(q.components).map(([name, points]) =>
      RM.html`<span class="text-nowrap me-1" title="${name}">${partLabel(name)} <span class="num">${RM.num(points)}</span></span>`), " ");
    const missing = RM.join(Object.entries(q.missing || {}).map(([name, why]) =>
      RM.html`<span class="me-1 text-warning quality-missing" title="${name}: left out of the score, the other weights renormalised">${partLabel(name)}: ${why}</span>`), " ");
    const notes = q.notes.filter((n) => !Object.keys(q.missing || {}).some((k) => n.startsWith(`${partLabel(k)}:`)));
    const noteText = notes.length ? RM.html`<div class="text-body-secondary">${notes.join("; ")}</div>` : "";
    return RM.html`<div class="fw-semibold num">${RM.num(q.score)}</div><div class="small">${parts}</div>${
      missing ? RM.html`<div class="small">${missing}</div>` : ""}<div class="small">${noteText}</div>`;
  }

  function decisionsText(decisions) {
    if (!decisions || !decisions.length) return "";
    return decisions.map((d) => {
      const order = d.order_id ? ` (order ${d.order_id})` : "";
      return RM.html`<div><strong>${d.account}</strong>: ${d.decision}${order} — ${d.reason}</div>`;
    });
  }

  // Now: worked out by the server on every refresh against the current book and mark (never the scan's old view)
  function nowLine(s) {
    const n = s.now;
    if (!n) return "";
    const until = n.until ? ` (until ${RM.time(n.until)})` : "";
    const book = n.book_as_of ? `positions as of ${RM.time(n.book_as_of)}` : "positions never read";
    const head = n.allowed ? RM.html`<span class="text-success">tradable now</span>` : RM.html`<span class="text-warning">not tradable now</span>`;
    return RM.html`<div class="small signal-now" data-allowed="${n.allowed}" data-code="${n.code}">${head}: ${n.reason}${until}
      <div class="text-body-secondary">as of ${RM.time(n.as_of)} · ${book}</div></div>`;
  }

  // what happened to the signal at the time (auto-trading's decision, a filter), with when
  function statusCell(s) {
    const reason = s.status_reason || s.drop_reason || "";
    const when = s.status_at ? `as of ${RM.time(s.status_at)}` : "time not recorded";
    return RM.html`${nowLine(s)}<div class="mt-1"><span class="small text-body-secondary">recorded:</span> ${badge(s.status, STATUS_BADGE[s.status] || "secondary", reason)}
      <span class="small text-body-secondary">${when}</span></div>${decisionsFolded(s.decisions)}`;
  }

  // each account's decision in one line; its full reason (often long, with raw levels) one click away
  function decisionsFolded(decisions) {
    return (decisions || []).map((d) => RM.html`<details class="small text-body-secondary"><summary><strong>${d.account}</strong>: ${d.decision}${d.decided_at ? ` at ${RM.time(d.decided_at)}` : ""}</summary>
      <div class="text-break">${d.reason}</div></details>`);
  }

  // usable whatever auto-trading decided; when the server says it cannot be traded now, the button says why
  function tradeButton(s) {
    const n = s.now;
    if (!n || !n.allowed) {
      const why = n ? n.reason : "no answer from the server";
      return RM.html`<button class="btn btn-sm btn-outline-secondary trade-btn" type="button" disabled title="${why}">Trade</button>
        <div class="small text-warning text-break trade-why">${why}</div>`;
    }
    const l = n.levels;
    return RM.html`<a class="btn btn-sm btn-primary trade-btn" href="${n.url}" title="Open the order ticket with stop and target re-centred on the current mark (the receipt shows size and every rule before anything is sent)">Trade</a>
      <div class="small text-body-secondary trade-levels" title="${l.message}">re-centred:<br>stop ${RM.price(l.stop_loss)}<br>target ${RM.price(l.take_profit)}<br>at mark ${RM.price(l.mark)}</div>`;
  }

  function levelsCell(s) {
    return RM.html`<div class="num text-nowrap">entry ${RM.price(s.entry)}</div>
      <div class="num text-nowrap neg">stop ${RM.price(s.stop)}</div>
      <div class="num text-nowrap pos">target ${RM.price(s.target)}</div>
      <div class="small text-body-secondary">reward:risk ${RM.num(s.reward_risk)}:1</div>`;
  }

  function signalRow(s, max) {
    return RM.html`<tr data-symbol="${s.symbol}">
      <td class="num">${s.rank}</td>
      <td><div class="fw-semibold text-nowrap">${s.symbol}</div>${badge(s.side, SIDE_BADGE[s.side] || "secondary")}</td>
      <td>${qualityCell(s.quality)}</td>
      <td><div class="fw-semibold num">${s.confidence}</div><div class="small">${componentsCell(s.components, max)}</div></td>
      <td>${levelsCell(s)}</td>
      <td class="small">${RM.dateTime(s.created_at)}<br><span class="text-body-secondary">valid until ${RM.time(s.valid_until)}</span></td>
      <td>${statusCell(s)}</td>
      <td><div class="d-grid gap-1"><button class="btn btn-sm btn-outline-info chart-btn" type="button" data-symbol="${s.symbol}">Chart</button>${tradeButton(s)}</div></td>
    </tr>
    <tr class="small text-body-secondary"><td></td><td colspan="7">${s.reasons.join(" · ")}</td></tr>`;
  }

  function renderSignals(data) {
    const body = document.querySelector("#signals-table tbody");
    if (!data.scan) {
      RM.fill(body, RM.html`<tr><td colspan="8" class="text-body-secondary">No scan has run yet.</td></tr>`);
      return;
    }
    RM.fill(body, data.signals.length
      ? data.signals.map((s) => signalRow(s, data.component_max))
      : RM.html`<tr><td colspan="8" class="text-body-secondary">No actionable signal in the last scan (${data.scan.symbols} symbols). Conservative rules mostly say no; see why below.</td></tr>`);
    const t = data.thresholds;
    document.getElementById("thresholds").textContent =
      `confidence ≥ ${t.min_confidence} · reward:risk ≥ ${t.min_reward_risk}:1 · cooldown ${t.cooldown_minutes} min per symbol`;
  }

  function renderDropped(data) {
    const body = document.querySelector("#dropped-table tbody");
    RM.fill(body, data.dropped.length ? data.dropped.map((s) => RM.html`<tr data-symbol="${s.symbol}">
        <td class="fw-semibold">${s.symbol}</td><td>${badge(s.side, SIDE_BADGE[s.side] || "secondary")}</td>
        <td class="num">${RM.num(s.quality.score)}</td><td class="num">${s.confidence}</td>
        <td>${s.drop_reason} <span class="small text-body-secondary">(scan of ${RM.time(data.scan.started_at)})</span></td>
        <td>${badge(s.status, STATUS_BADGE[s.status] || "secondary", s.status_reason)}${nowLine(s)}</td>
        <td><div class="d-grid gap-1">${tradeButton(s)}</div></td></tr>`)
      : RM.html`<tr><td colspan="7" class="text-body-secondary">None.</td></tr>`);
  }

  function renderRejected(data) {
    RM.fill(document.querySelector("#rejected-table tbody"), data.rejected.map((r) =>
      RM.html`<tr><td>${r.symbol}</td><td>${r.text}</td></tr>`));
    const counts = {};
    data.rejected.forEach((r) => { counts[r.text] = (counts[r.text] || 0) + 1; });
    const parts = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([text, n]) => `${n} × ${text}`);
    RM.fill(document.getElementById("rejected-summary"), parts.length ? RM.join(parts, RM.html`<br>`) : "Every symbol evaluated had a signal or none was evaluated.");
    const errorsCard = document.getElementById("errors-card");
    errorsCard.classList.toggle("d-none", !data.errors.length);
    RM.fill(document.querySelector("#errors-table tbody"), data.errors.map((e) =>
      RM.html`<tr><td>${e.symbol}</td><td class="stale-note">${e.error}</td></tr>`));
  }

  function renderAuto(data) {
    const a = data.auto_trading;
    const rows = RM.join(a.accounts.map((p) => RM.html`<div class="d-flex justify-content-between border-bottom py-1">
        <span><strong>${p.account}</strong> <span class="text-body-secondary">${p.mode} · ${p.market}</span></span>
        <span>${p.enabled ? badge("ON", "success") : badge("off", "secondary", p.reason)}</span></div>
        ${p.enabled ? "" : RM.html`<div class="text-body-secondary">${p.reason}</div>`}`));
    RM.fill(document.getElementById("auto-trading"),
      RM.html`${rows || "No accounts configured."}<div class="mt-2">Daily cap: <strong>${a.daily_cap}</strong> automatic entries per account per risk day.</div>`);
  }

  function renderStatus(data) {
    errorBox.classList.toggle("d-none", !(data.scan && data.scan.error));
    if (data.scan && data.scan.error) errorBox.textContent = `Last scan failed at ${RM.dateTime(data.scan.finished_at)}: ${data.scan.error}`;
    if (!data.scan) { status.textContent = "no scan yet"; return; }
    const held = data.held.length ? ` · held: ${data.held.join(", ")}` : "";
    status.textContent = `last scan ${RM.dateTime(data.scan.finished_at)} (${data.scan.trigger}, ${data.scan.symbols} symbols, ${data.scan.duration_ms} ms)${held}`;
  }

  function outcomeText(d) {
    if (d.decision !== "taken") return "";
    if (!d.outcome) return "open";
    if (d.outcome === "unknown") return `unknown — ${d.outcome_note}`;
    const pnl = RM.signed(d.outcome_pnl);
    return RM.html`<span class="${pnl.cls}">${d.outcome} ${pnl.text} USDT</span>`;
  }

  function renderHistory(rows) {
    const body = document.querySelector("#history-table tbody");
    RM.fill(body, rows.length ? rows.map((r) => RM.html`<tr>
        <td class="small">${RM.dateTime(r.first_seen_at)}</td><td>${r.symbol}</td>
        <td>${badge(r.side, SIDE_BADGE[r.side] || "secondary")}</td><td class="num">${r.confidence}</td>
        <td class="num">${RM.num(r.quality)}</td>
        <td>${badge(r.status, STATUS_BADGE[r.status] || "secondary")}<div class="small text-body-secondary">${r.status_reason}</div></td>
        <td class="small">${decisionsText(r.decisions)}</td>
        <td class="small">${RM.join(r.decisions.map(outcomeText).filter(Boolean), RM.html`<br>`)}</td></tr>`)
      : RM.html`<tr><td colspan="8" class="text-body-secondary">No signal yet.</td></tr>`);
  }

  function render(data) {
    partLabels = data.quality_labels || {};
    renderStatus(data);
    renderSignals(data);
    renderDropped(data);
    renderRejected(data);
    renderAuto(data);
  }

  async function load() {
    const res = await RM.api("/api/signals");
    if (!res.ok) { status.textContent = `could not load signals: ${res.data.error} ${res.data.detail || ""}`; return false; }
    render(res.data);
    const hist = await RM.api("/api/signals/history?limit=50");
    if (hist.ok) renderHistory(hist.data.signals);
    if (!res.data.scan && !autoScanTried) { autoScanTried = true; scanNow(); }
  }

  async function scanNow() {
    if (scanning) return;
    scanning = true;
    scanButton.disabled = true;
    progress.classList.remove("d-none");
    try {
      const res = await RM.api("/api/signals/scan", { method: "POST", body: {} });
      if (!res.ok) { errorBox.classList.remove("d-none"); errorBox.textContent = `Scan failed: ${res.data.error} — ${JSON.stringify(res.data.detail)}`; return; }
      render(res.data);
      const hist = await RM.api("/api/signals/history?limit=50");
      if (hist.ok) renderHistory(hist.data.signals);
    } finally {
      scanning = false;
      scanButton.disabled = false;
      progress.classList.add("d-none");
    }
  }

  function label(ms) {
    const d = new Date(ms);
    return RM.dateTime(d.toISOString()).replace(/:\d\d (\S+)$/, "");
  }

  function line(labelText, data, color, extra = {}) {
    return { label: labelText, data, borderColor: color, backgroundColor: color, borderWidth: 1.5, pointRadius: 0, spanGaps: false, ...extra };
  }

  function levels(signal) {
    if (!signal) return {};
    const mk = (value, color, text) => ({ type: "line", yMin: Number(value), yMax: Number(value), borderColor: color, borderWidth: 1.5, borderDash: [6, 4],
      label: { display: true, content: `${text} ${RM.price(value)}`, position: "end", backgroundColor: "rgba(0,0,0,.6)", color, font: { size: 11 } } });
    return { entry: mk(signal.entry, "#9ec5fe", "entry"), stop: mk(signal.stop, "#ea868f", "stop"), target: mk(signal.target, "#75b798", "target") };
  }

  function drawCharts(c) {
    const labels = c.t.map(label);
    const [fast, mid, slow] = c.ema_periods;
    const price = {
      type: "line",
      data: { labels, datasets: [
        line("high", c.high, "rgba(173,181,189,.35)", { borderWidth: 0 }),
        line("low (high–low band)", c.low, "rgba(173,181,189,.35)", { borderWidth: 0, fill: "-1", backgroundColor: "rgba(173,181,189,.15)" }),
        line("close", c.close, "#f8f9fa", { borderWidth: 1.8 }),
        line("BB upper", c.bb_upper, "#6f42c1", { borderDash: [4, 3], borderWidth: 1 }),
        line("BB middle", c.bb_middle, "#6f42c1", { borderWidth: 1 }),
        line("BB lower", c.bb_lower, "#6f42c1", { borderDash: [4, 3], borderWidth: 1 }),
        line(`EMA ${fast} (${c.trend_timeframe})`, c.ema_fast, "#ffc107", { stepped: true }),
        line(`EMA ${mid} (${c.trend_timeframe})`, c.ema_mid, "#fd7e14", { stepped: true }),
        line(`EMA ${slow} (${c.trend_timeframe})`, c.ema_slow, "#dc3545", { stepped: true }),
      ] },
      options: { animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
        scales: { x: { ticks: { maxTicksLimit: 8 } }, y: { ticks: { callback: (v) => RM.price(v) } } },
        plugins: { legend: { labels: { boxWidth: 12 } }, annotation: { annotations: levels(c.signal) } } },
    };
    const band = c.signal ? c.rsi_band[c.signal.side] : null;
    const rsiAnn = {
      hi: { type: "line", yMin: 70, yMax: 70, borderColor: "rgba(234,134,143,.6)", borderWidth: 1 },
      lo: { type: "line", yMin: 30, yMax: 30, borderColor: "rgba(117,183,152,.6)", borderWidth: 1 },
    };
    if (band) rsiAnn.band = { type: "box", yMin: band[0], yMax: band[1], backgroundColor: "rgba(13,110,253,.12)", borderWidth: 0 };
    const rsi = {
      type: "line",
      data: { labels, datasets: [line("RSI 14", c.rsi, "#0dcaf0")] },
      options: { animation: false, maintainAspectRatio: false, scales: { x: { display: false }, y: { min: 0, max: 100, ticks: { stepSize: 25 } } },
        plugins: { legend: { labels: { boxWidth: 12 } }, annotation: { annotations: rsiAnn } } },
    };
    if (priceChart) priceChart.destroy();
    if (rsiChart) rsiChart.destroy();
    priceChart = new Chart(document.getElementById("price-chart"), price);
    rsiChart = new Chart(document.getElementById("rsi-chart"), rsi);
  }

  async function showChart(symbol) {
    chartSymbol = symbol;
    const card = document.getElementById("chart-card");
    card.classList.remove("d-none");
    document.getElementById("chart-title").textContent = `${symbol} · loading…`;
    const res = await RM.api(`/api/signals/${encodeURIComponent(symbol)}/chart`);
    if (chartSymbol !== symbol) return;
    if (!res.ok) {
      document.getElementById("chart-title").textContent = `${symbol}`;
      document.getElementById("chart-note").textContent = `No chart: ${res.data.error} — ${typeof res.data.detail === "string" ? res.data.detail : JSON.stringify(res.data.detail)}`;
      return;
    }
    const c = res.data;
    const demo = c.simulated ? " · DEMO / SIMULATED" : ` · ${c.source}`;
    document.getElementById("chart-title").textContent = `${symbol} · ${c.timeframe}${demo}`;
    document.getElementById("chart-note").textContent = c.signal
      ? `${c.signal.side} signal: entry ${RM.price(c.signal.entry)}, stop ${RM.price(c.signal.stop)}, target ${RM.price(c.signal.target)} (confidence ${c.signal.confidence}); bars closed up to ${label(c.t[c.t.length - 1])}, times ${RM.tz}`
      : `No signal on this symbol in the last scan; times ${RM.tz}`;
    drawCharts(c);
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }

  document.getElementById("signals-table").addEventListener("click", (ev) => {
    const btn = ev.target.closest(".chart-btn");
    if (btn) showChart(btn.dataset.symbol);
  });
  document.getElementById("chart-close").addEventListener("click", () => {
    chartSymbol = null;
    document.getElementById("chart-card").classList.add("d-none");
  });
  scanButton.addEventListener("click", scanNow);

  RM.poll(() => (scanning ? true : load()), { every: refreshMs });
})();
