/* Order ticket: market info, default protection, the live pre-trade receipt (/api/orders/preview, debounced),
   submit through /api/orders (only while every verdict allows), show the gateway's answer. */
"use strict";

(() => {
  const form = document.getElementById("ticket");
  if (!form) return;  // no paper account configured
  const result = document.getElementById("ticket-result");
  const receiptBox = document.getElementById("receipt");
  const receiptStatus = document.getElementById("receipt-status");
  const submitButton = document.getElementById("submit-order");
  const submitWhy = document.getElementById("submit-why");
  const PREVIEW_DEBOUNCE_MS = 350;
  let markets = {};
  let previewSeq = 0;       // only the answer to the latest preview request is shown
  let previewTimer = null;
  let lastReceipt = null;   // the receipt of the form as it was at lastKey
  let lastKey = null;
  let intentId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();

  const field = (name) => form.elements[name];
  const side = () => form.querySelector('input[name="side"]:checked').value;

  async function loadMarkets() {
    const res = await RM.api("/api/markets");
    if (!res.ok) return false;
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

  function roundTick(value, tick, up) {
    const t = Number(tick);
    const decimals = Math.max(0, -Math.floor(Math.log10(t)));
    const steps = value / t;
    return ((up ? Math.ceil(steps - 1e-9) : Math.floor(steps + 1e-9)) * t).toFixed(decimals);
  }

  // The limits' default stop and target (1.5 % / 3.75 %: 2.5:1, headroom above the 2:1 minimum) from the entry
  // (limit price or mark). The stop rounds towards the entry and the target away from it, so rounding never lowers
  // reward:risk. Until the trader edits either field they follow the mark (autoProtection), because a market order
  // is judged at the mark of the moment it is checked.
  let autoProtection = true;
  const defaults = document.getElementById("default-protection").dataset;
  function defaultProtection() {
    const m = markets[field("symbol").value];
    if (!m) return;
    const ref = field("type").value === "limit" && field("price").value ? Number(field("price").value) : Number(m.mark);
    const long = side() === "buy";
    const stop = Number(defaults.stopPct) / 100;
    const target = Number(defaults.targetPct) / 100;
    field("stop_loss").value = roundTick(ref * (long ? 1 - stop : 1 + stop), m.price_tick, long);
    field("take_profit").value = roundTick(ref * (long ? 1 + target : 1 - target), m.price_tick, long);
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
    return RM.html`<ul class="list-unstyled small mb-0">${verdicts.map((v) =>
      RM.html`<li>${v.allowed ? RM.html`<i class="bi bi-check-circle text-success"></i>` : RM.html`<i class="bi bi-x-circle text-danger"></i>`} <strong>${RM.rule(v.rule, v.label)}</strong>: ${v.reason}</li>`)}</ul>`;
  }

  function describe(label, r) {
    if (!r) return "";
    const cls = r.accepted ? "success" : "danger";
    const o = r.order ? ` — order ${r.order.id} ${r.order.status}${r.order.avg_fill_price ? " at " + RM.price(r.order.avg_fill_price) : ""}` : "";
    return RM.html`<div class="alert alert-${cls} py-2 mb-2"><strong>${label}:</strong> ${r.accepted ? "accepted" : "not placed"}${o}
      <div class="small">${r.message || ""}</div>${verdictList(r.verdicts)}</div>`;
  }

  // -- the pre-trade receipt ----------------------------------------------------------------------------------
  function formKey() {
    const data = ticket();
    delete data.intent_id;
    return JSON.stringify(data);
  }

  function setSubmit(allowed, why, cls = "text-danger") {
    submitButton.disabled = !allowed;
    submitWhy.className = `small mt-1 ${allowed ? "text-body-secondary" : cls}`;
    RM.fill(submitWhy, why);  // text, or markup built with RM.html
  }

  function line(label, value) {
    return RM.html`<dt class="col-5">${label}</dt><dd class="col-7 num">${value}</dd>`;
  }

  function renderFigures(r) {
    const f = r.figures;
    if (!f) {
      return r.reduce_only ? RM.html`<p class="small mb-1">Reduce-only: only the trading state is checked; the new-risk rules do not apply.</p>`
        : RM.html`<p class="small text-warning mb-1">No size: ${r.sizing_error || "the order cannot be sized (see the verdicts)"}</p>`;
    }
    const s = f.size;
    const caps = s.caps.length ? RM.html`<div class="small text-warning">${RM.join(s.caps.map((c) => c.reason), RM.html`<br>`)}</div>` : "";
    const d = f.daily_loss;
    const daily = d ? `${RM.num(d.headroom_usdt)} USDT left (${RM.num(d.headroom_after_stop_usdt)} if this stop is hit) · day ${RM.num(d.loss_pct)} % of ${d.limit_pct} %`
      : "unknown (no opening equity on record)";
    return RM.html`<dl class="row kv small mb-1">
      ${line("Size", RM.html`${s.qty} ${s.base} ${s.sized ? "(sized from the stop by risk per trade)" : "(as entered, rounded to the step)"}${caps}`)}
      ${line("Entry", RM.html`${RM.price(r.entry_price)} <span class="text-body-secondary">(${r.entry_source})</span>`)}
      ${line("Notional / margin", `${RM.num(s.notional)} / ${RM.num(s.margin)} USDT`)}
      ${line("Risk if stopped, incl. fees and slippage", riskLine(f.risk, s.base))}
      ${line("Leverage", `${f.leverage.setting}x (cap ${f.leverage.limit}x, exchange ${f.leverage.exchange_max}x) · account ${f.leverage.account_after ?? "—"}x after`)}
      ${line("Liquidation", `${RM.price(f.liquidation.price)} · ${RM.price(f.liquidation.beyond_stop)} beyond the stop (${RM.num(f.liquidation.beyond_stop_pct_of_entry)} % of entry)`)}
      ${line("Daily-loss headroom", daily)}
      ${line("Open positions", `${f.open_positions.split} → ${f.open_positions.after} of ${f.open_positions.limit}${f.open_positions.new_position ? "" : " (adds to an open or resting one)"}`)}
      ${line("Position notional", `${RM.num(f.notional.after)} of ${RM.num(f.notional.limit)} USDT${Number(f.notional.pending) ? ` (incl. ${RM.num(f.notional.pending)} USDT resting or in flight)` : ""}`)}
      ${line("Reward : risk", f.reward_risk.ratio !== null ? `${RM.num(f.reward_risk.ratio)} : 1 (min ${f.reward_risk.min} : 1)` : "no take-profit")}
    </dl>`;
  }

  // the loss at the stop with its split; after an add, of the whole position under its one stop
  function riskLine(k, base) {
    const split = k.split ? RM.html`<div class="small text-body-secondary">price move ${RM.num(k.split.price_move)} + fees ${RM.num(k.split.fees)} + slippage ${RM.num(k.split.slippage)} USDT${
      Number(k.existing_qty) ? ` · whole position: ${k.existing_qty} ${base} open loses ${RM.num(k.existing_usdt)} of it` : ""}${
      k.costs ? ` · ${k.costs.source}` : ""}</div>` : "";
    return RM.html`${RM.num(k.usdt)} USDT = ${RM.num(k.pct_of_equity)} % of equity ${RM.num(k.equity)} (limit ${k.limit_pct} %)${split}`;
  }

  function renderReceipt(r) {
    RM.fill(receiptBox, renderFigures(r), verdictList(r.verdicts));
    receiptAt = Date.now();
    receiptBox.classList.remove("stale");
    receiptStatus.className = "small text-body-secondary";
    receiptStatus.textContent = `as of ${RM.time(new Date().toISOString())}`;
    if (r.allowed) {
      setSubmit(true, `Every rule allows this order${r.qty ? ` (${r.qty} ${r.symbol.split("/")[0]})` : ""}.`);
    } else {
      setSubmit(false, RM.html`<strong>Blocked</strong> — ${RM.join(r.denials.map((v) => RM.html`${RM.rule(v.rule, v.label)}: ${v.reason}`), "; ")}`);
    }
  }

  function schedulePreview() {
    clearTimeout(previewTimer);
    // a changed ticket may not be placed on its old receipt; an unchanged one keeps it while it is refreshed
    // (a blur "change" event on mousedown must not disable the button the trader is clicking)
    if (formKey() !== lastKey) setSubmit(false, "updating the receipt…", "text-body-secondary");
    previewTimer = setTimeout(preview, PREVIEW_DEBOUNCE_MS);
  }

  async function preview() {
    const key = formKey();
    const seq = ++previewSeq;
    const res = await RM.api("/api/orders/preview", { method: "POST", body: ticket() });
    if (seq !== previewSeq) return false;  // the form changed meanwhile; a newer answer is on its way
    lastKey = key;
    lastReceipt = null;
    if (res.status === 400) {
      const d = res.data.detail || {};
      RM.fill(receiptBox, RM.html`<div class="text-warning small">Check <strong>${d.field || "the form"}</strong>: ${d.message || res.data.error}</div>`);
      setSubmit(false, `Check ${d.field || "the form"}: ${d.message || res.data.error}`, "text-warning");
      return false;
    }
    if (res.status === 0) {  // the server did not answer: the receipt on screen no longer holds
      markReceiptOld(`the server did not answer at ${RM.time(new Date().toISOString())}`);
      return false;
    }
    if (!res.ok) {
      RM.fill(receiptBox, RM.html`<div class="text-danger small">No receipt: ${res.data.error} — ${JSON.stringify(res.data.detail)}</div>`);
      setSubmit(false, "No receipt, so no order: the figures could not be read.");
      return false;
    }
    lastReceipt = res.data;
    renderReceipt(res.data);
    return res.data.allowed;
  }

  // Liveness: a receipt is out of date when the ticket changed, when it is older than the data-age limit (the
  // gate's own), or when refreshing it failed; it says so instead of "updating the receipt…" forever.
  let receiptAt = null;
  let oldEpisode = false;
  const receiptOld = () => receiptAt !== null && Date.now() - receiptAt > RMLive.staleAfter() * 1000;
  function markReceiptOld(why) {
    lastReceipt = null;
    receiptBox.classList.add("stale");
    receiptStatus.className = "small stale-note";
    receiptStatus.textContent = `out of date — ${why}${receiptAt ? `; receipt from ${RM.time(new Date(receiptAt).toISOString())}` : ""}`;
    setSubmit(false, `The receipt is out of date (${why}): no order until a new one is shown.`, "text-warning");
  }
  RM.poll(() => {
    if (receiptAt === null) return;
    if (lastKey !== null && formKey() !== lastKey && !receiptBox.classList.contains("stale")) {
      receiptBox.classList.add("stale");
      receiptStatus.className = "small stale-note";
      receiptStatus.textContent = "out of date — the ticket changed since this receipt; updating…";
    }
    if (receiptOld() && !oldEpisode) {
      oldEpisode = true;
      markReceiptOld(`older than ${RMLive.staleAfter()} s`);
      schedulePreview();
    } else if (!receiptOld()) {
      oldEpisode = false;
    }
  }, { every: 1000 });

  form.addEventListener("input", schedulePreview);
  form.addEventListener("change", schedulePreview);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearTimeout(previewTimer);
    // place exactly what the receipt on screen describes: re-preview if the form changed since
    if (!lastReceipt || lastKey !== formKey() || receiptOld()) {
      if (!(await preview())) return;
    }
    if (!lastReceipt.allowed) return;
    submitButton.disabled = true;
    const body = ticket();
    if (!body.qty && lastReceipt.qty) body.qty = lastReceipt.qty;  // the size the receipt showed
    // the mark the stop and target were judged against: if it moves, the answer offers them re-centred
    if (body.type === "market" && lastReceipt.entry_price) body.reference_price = lastReceipt.entry_price;
    await send(body);
  });

  // The mark moved between the receipt and the gate: the 409 names the rule and offers the levels re-centred
  // on the mark of that moment; one click sends the same ticket with "recentre": true (a new intent).
  function recentreOffer(d) {
    const o = d.recentred;
    if (!o || o.applied) return "";
    return RM.html`<div class="alert alert-warning small">Denied by ${(o.denied_by || []).join(", ")} because the mark moved: ${o.message}
      (${o.allowed ? "every rule allows these levels" : RM.html`still denied: ${RM.join(o.denials.map((v) => RM.rule(v.rule, v.label)), ", ")}`}).
      <button type="button" class="btn btn-sm btn-warning ms-2" id="use-recentred">Re-centre on the mark and place</button></div>`;
  }

  async function send(body) {
    const res = await RM.api("/api/orders", { method: "POST", body });
    if (res.status === 400) {
      const d = res.data.detail || {};
      RM.fill(result, RM.html`<div class="alert alert-warning">Check <strong>${d.field || "the form"}</strong>: ${d.message || res.data.error}</div>`);
      schedulePreview();
      return;  // same intent id: fixing the form and resubmitting is the same order
    }
    const d = res.data;
    const applied = d.recentred && d.recentred.applied
      ? RM.html`<div class="alert alert-info small">${d.recentred.message}</div>` : "";
    if (d.recentred && d.recentred.applied) {
      autoProtection = false;
      field("stop_loss").value = d.recentred.stop_loss;
      if (d.recentred.take_profit) field("take_profit").value = d.recentred.take_profit;
    }
    RM.fill(result, applied, recentreOffer(d),
      RM.join([describe("Entry", d.entry), describe("Stop-loss / take-profit", d.protection), describe("Unwind (protection failed)", d.unwind)].filter(Boolean))
      || RM.html`<div class="alert alert-danger">${d.error}: ${JSON.stringify(d.detail)}</div>`);
    intentId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();  // next order is a new intent
    const again = document.getElementById("use-recentred");
    if (again) again.addEventListener("click", () => { again.disabled = true; send({ ...body, intent_id: intentId, recentre: true }); });
    refreshPositions();
    schedulePreview();
  }

  async function refreshPositions() {
    const res = await RM.api("/api/snapshot");
    if (!res.ok) return false;
    RM.setBanner(res.data.trading_state);
    const rows = res.data.accounts.filter((a) => a.mode === "paper").flatMap((a) => a.positions.map((p) => {
      const u = RM.signed(p.unrealized_pnl);
      return RM.html`<tr><td>${a.name}</td><td>${p.symbol}</td><td>${p.side}</td><td class="text-end">${RM.qty(p.size)}</td>
        <td class="text-end">${RM.price(p.entry_price)}</td><td class="text-end">${RM.price(p.mark_price)}</td><td class="text-end ${u.cls}">${u.text}</td>
        <td>${p.stop_loss.present ? RM.price(p.stop_loss.price) : RM.html`<span class="badge text-bg-danger">NONE</span>`}</td>
        <td>${p.take_profit.present ? RM.price(p.take_profit.price) : "—"}</td></tr>`;
    }));
    RM.fill(document.querySelector("#trade-positions tbody"), RM.join(rows) || RM.html`<tr><td colspan="9" class="text-body-secondary">No open paper positions.</td></tr>`);
    RMLive.stampRows(document.querySelector("#trade-positions tbody"),
      res.data.accounts.filter((a) => a.mode === "paper").flatMap((a) => a.positions.map(() => a)));
  }

  function followMark() { if (autoProtection) defaultProtection(); }
  field("type").addEventListener("change", () => { field("price").disabled = field("type").value !== "limit"; followMark(); });
  field("symbol").addEventListener("change", () => { showMarket(); field("stop_loss").value = ""; field("take_profit").value = ""; followMark(); });
  field("price").addEventListener("input", followMark);
  form.querySelectorAll('input[name="side"]').forEach((el) => el.addEventListener("change", followMark));
  for (const name of ["stop_loss", "take_profit"]) field(name).addEventListener("input", () => { autoProtection = false; });
  document.getElementById("default-protection").addEventListener("click", () => { autoProtection = true; defaultProtection(); schedulePreview(); });
  // The Signals page's Trade button opens /trade?symbol=&side=&stop_loss=&take_profit= (and optionally account):
  // the ticket starts from the signal's plan, and the receipt shows what the gate would say about it.
  function fromQuery() {
    const q = new URLSearchParams(window.location.search);
    const pick = (name) => { const v = q.get(name); return v === null || v === "" ? null : v; };
    const symbol = pick("symbol");
    if (symbol && [...field("symbol").options].some((o) => o.value === symbol)) field("symbol").value = symbol;
    const account = pick("account");
    if (account && [...field("account").options].some((o) => o.value === account)) field("account").value = account;
    const side = pick("side");
    if (side === "buy" || side === "sell") form.querySelector(`input[name="side"][value="${side}"]`).checked = true;
    const stop = pick("stop_loss");
    const target = pick("take_profit");
    if (stop !== null) field("stop_loss").value = stop;
    if (target !== null) field("take_profit").value = target;
    return stop !== null || target !== null;  // a signal's levels are kept, not replaced by the defaults
  }

  const planned = fromQuery();
  if (planned) autoProtection = false;
  loadMarkets().then(() => { showMarket(); if (!planned) defaultProtection(); schedulePreview(); });
  RM.poll(refreshPositions, { every: 5000 });
  RM.poll(async () => {
    const ok = await loadMarkets();
    if (ok !== false && autoProtection && field("type").value === "market") { defaultProtection(); schedulePreview(); }
    return ok;
  }, { every: 5000, immediate: false });
  RM.poll(() => { if (document.activeElement === document.body || !form.contains(document.activeElement)) schedulePreview(); },
    { every: 10000, immediate: false });
})();
