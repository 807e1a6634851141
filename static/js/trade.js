/* Order ticket: market info, default protection, submit through /api/orders, show the gateway's answer. */
"use strict";

(() => {
  const form = document.getElementById("ticket");
  if (!form) return;  // no paper account configured
  const result = document.getElementById("ticket-result");
  let markets = {};
  let intentId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();

  const field = (name) => form.elements[name];
  const side = () => form.querySelector('input[name="side"]:checked').value;

  async function loadMarkets() {
    const res = await RM.api("/api/markets");
    if (!res.ok) return;
    markets = Object.fromEntries(res.data.markets.map((m) => [m.symbol, m]));
    showMarket();
  }

  function showMarket() {
    const m = markets[field("symbol").value];
    if (!m) return;
    document.getElementById("market-info").textContent =
      `mark ${RM.price(m.mark)} at ${RM.time(m.ts)} · min qty ${m.min_qty} · step ${m.qty_step} · tick ${m.price_tick} · min notional ${m.min_notional} USDT · max leverage ${m.max_leverage}x`;
    field("leverage").max = m.max_leverage;
    document.getElementById("qty-help").textContent = `step ${m.qty_step}, minimum ${m.min_qty}`;
  }

  function roundTick(value, tick) {
    const t = Number(tick);
    const decimals = Math.max(0, -Math.floor(Math.log10(t)));
    return (Math.round(value / t) * t).toFixed(decimals);
  }

  function defaultProtection() {
    const m = markets[field("symbol").value];
    if (!m) return;
    const ref = field("type").value === "limit" && field("price").value ? Number(field("price").value) : Number(m.mark);
    const long = side() === "buy";
    field("stop_loss").value = roundTick(ref * (long ? 0.985 : 1.015), m.price_tick);
    field("take_profit").value = roundTick(ref * (long ? 1.03 : 0.97), m.price_tick);
  }

  function ticket() {
    const data = { intent_id: intentId, side: side(), reduce_only: field("reduce_only").checked };
    for (const name of ["account", "symbol", "type", "qty", "price", "leverage", "margin_mode", "stop_loss", "take_profit"]) {
      const el = field(name);
      if (el && !el.disabled && el.value !== "") data[name] = el.value;
    }
    return data;
  }

  function verdictList(verdicts) {
    if (!verdicts || !verdicts.length) return "";
    return `<ul class="list-unstyled small mb-0">${verdicts.map((v) =>
      `<li>${v.allowed ? '<i class="bi bi-check-circle text-success"></i>' : '<i class="bi bi-x-circle text-danger"></i>'} <strong>${RM.esc(v.rule)}</strong>: ${RM.esc(v.reason)}</li>`).join("")}</ul>`;
  }

  function describe(label, r) {
    if (!r) return "";
    const cls = r.accepted ? "success" : "danger";
    const o = r.order ? ` — order ${RM.esc(r.order.id)} ${r.order.status}${r.order.avg_fill_price ? " at " + RM.price(r.order.avg_fill_price) : ""}` : "";
    return `<div class="alert alert-${cls} py-2 mb-2"><strong>${label}:</strong> ${r.accepted ? "accepted" : "not placed"}${o}
      <div class="small">${RM.esc(r.message || "")}</div>${verdictList(r.verdicts)}</div>`;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("submit-order");
    button.disabled = true;
    const res = await RM.api("/api/orders", { method: "POST", body: ticket() });
    button.disabled = false;
    if (res.status === 400) {
      const d = res.data.detail || {};
      result.innerHTML = `<div class="alert alert-warning">Check <strong>${RM.esc(d.field || "the form")}</strong>: ${RM.esc(d.message || res.data.error)}</div>`;
      return;  // same intent id: fixing the form and resubmitting is the same order
    }
    const d = res.data;
    result.innerHTML = describe("Entry", d.entry) + describe("Stop-loss / take-profit", d.protection) + describe("Unwind (protection failed)", d.unwind)
      || `<div class="alert alert-danger">${RM.esc(d.error)}: ${RM.esc(JSON.stringify(d.detail))}</div>`;
    intentId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();  // next order is a new intent
    refreshPositions();
  });

  async function refreshPositions() {
    const res = await RM.api("/api/snapshot");
    if (!res.ok) return;
    RM.setBanner(res.data.trading_state);
    const rows = res.data.accounts.filter((a) => a.mode === "paper").flatMap((a) => a.positions.map((p) => {
      const u = RM.signed(p.unrealized_pnl);
      return `<tr><td>${RM.esc(a.name)}</td><td>${RM.esc(p.symbol)}</td><td>${p.side}</td><td class="text-end">${RM.qty(p.size)}</td>
        <td class="text-end">${RM.price(p.entry_price)}</td><td class="text-end">${RM.price(p.mark_price)}</td><td class="text-end ${u.cls}">${u.text}</td>
        <td>${p.stop_loss.present ? RM.price(p.stop_loss.price) : '<span class="badge text-bg-danger">NONE</span>'}</td>
        <td>${p.take_profit.present ? RM.price(p.take_profit.price) : "—"}</td></tr>`;
    }));
    document.querySelector("#trade-positions tbody").innerHTML = rows.join("") || `<tr><td colspan="9" class="text-body-secondary">No open paper positions.</td></tr>`;
  }

  field("type").addEventListener("change", () => { field("price").disabled = field("type").value !== "limit"; });
  field("symbol").addEventListener("change", () => { showMarket(); field("stop_loss").value = ""; field("take_profit").value = ""; });
  document.getElementById("default-protection").addEventListener("click", defaultProtection);
  loadMarkets().then(defaultProtection);
  refreshPositions();
  setInterval(refreshPositions, 5000);
  setInterval(loadMarkets, 5000);
})();
