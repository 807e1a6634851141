/* Backtests page, the form side: presets (built-in and saved), data sources and CSV upload, every risk and signal
   setting, starting a run (POST /api/backtests) and following its progress, the list of past runs, compare. */
"use strict";

(() => {
  const form = document.getElementById("bt-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 1000;
  const TRADES_PAGE = 200;
  let opts = null;
  let current = null;          // the run shown in the result card
  let tradesOffset = 0;
  let follower = null;  // the RM.poll following a queued / running run
  const modal = window.bootstrap ? new bootstrap.Modal($("bt-modal")) : null;

  // -- small helpers -------------------------------------------------------------------------------------------
  function confirmDialog(title, text, { okLabel = "OK", danger = true, withInput = false, value = "" } = {}) {
    return new Promise((resolve) => {
      $("bt-modal-title").textContent = title;
      $("bt-modal-text").textContent = text;
      $("bt-modal-input-box").classList.toggle("d-none", !withInput);
      $("bt-modal-input").value = value;
      $("bt-modal-input2").value = "";
      const ok = $("bt-modal-ok");
      ok.textContent = okLabel;
      ok.className = `btn ${danger ? "btn-danger" : "btn-primary"}`;
      let answered = false;
      const done = (answer) => { if (!answered) { answered = true; resolve(answer); } };
      ok.onclick = () => { done(withInput ? { name: $("bt-modal-input").value.trim(), description: $("bt-modal-input2").value.trim() } : true); modal.hide(); };
      $("bt-modal").addEventListener("hidden.bs.modal", () => done(null), { once: true });
      modal.show();
    });
  }

  function showError(data) {
    const box = $("bt-form-error");
    form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
    if (!data) { box.classList.add("d-none"); return; }
    const detail = data.detail && typeof data.detail === "object" ? data.detail : null;
    box.textContent = detail ? `${detail.field}: ${detail.message}` : `${data.error || "error"}${data.detail ? ": " + data.detail : ""}`;
    box.classList.remove("d-none");
    if (detail) {
      const el = form.querySelector(`[name="${CSS.escape(detail.field)}"]`);
      if (el) { el.classList.add("is-invalid"); el.closest("details")?.setAttribute("open", ""); el.focus(); }
    }
  }

  // times: the form shows naive local times of the chosen zone; the server reads them in that zone
  function localInput(date, zone) {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false }).formatToParts(date).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour === "24" ? "00" : parts.hour}:${parts.minute}`;
  }

  function setDefaultRange() {
    const zone = $("bt-timezone").value || "UTC";
    const now = new Date(opts.now);
    const end = new Date(Math.floor(now.getTime() / 3600000) * 3600000);
    const start = new Date(end.getTime() - 30 * 86400000);
    try {
      $("bt-end").value = localInput(end, zone);
      $("bt-start").value = localInput(start, zone);
    } catch (e) { /* an unknown zone: the server will name it when the form is sent */ }
  }

  // -- building the form ---------------------------------------------------------------------------------------
  function field(container, name, label, value, { type = "text", help = "", choices = null } = {}) {
    const id = `bt-f-${name.replace(/\./g, "-")}`;
    let input;
    if (type === "bool") {
      input = RM.html`<div class="form-check mt-4"><input class="form-check-input" type="checkbox" id="${id}" name="${name}" ${value ? "checked" : ""}>
        <label class="form-check-label small" for="${id}">${label}</label></div>`;
      container.append(RM.fragment(RM.html`<div class="col-6" title="${help}">${input}</div>`));
      return;
    }
    if (choices) {
      input = RM.html`<select class="form-select form-select-sm" id="${id}" name="${name}">${choices.map((c) => RM.html`<option ${c === value ? "selected" : ""}>${c}</option>`)}</select>`;
    } else {
      input = RM.html`<input class="form-control form-control-sm" id="${id}" name="${name}" value="${value ?? ""}" inputmode="decimal">`;
    }
    container.append(RM.fragment(RM.html`<div class="col-6"><label class="form-label small mb-0" for="${id}" title="${help}">${label}</label>${input}</div>`));
  }

  function buildGroups() {
    const limits = $("bt-limits");
    for (const f of opts.limit_fields) {
      const unit = f.unit ? ` (${f.unit})` : "";
      const allowed = f.type === "decimal" || f.type === "int" ? ` Allowed ${f.min}–${f.max}${unit}.` : "";
      field(limits, `limits.${f.name}`, (f.label || f.name.replace(/_/g, " ")) + unit, f.default,
        { type: f.type === "bool" ? "bool" : "text", help: `${f.name}: ${f.help}${allowed}`, choices: f.type === "choice" ? f.choices : null });
    }
    const signal = $("bt-signal");
    for (const [name, value] of Object.entries(opts.signal_defaults)) {
      if (name === "indicators") continue;
      field(signal, `signal.${name}`, name.replace(/_/g, " "), value);
    }
    for (const [name, value] of Object.entries(opts.signal_defaults.indicators)) {
      field(signal, `signal.indicators.${name}`, name.replace(/_/g, " "), value);
    }
    const contract = $("bt-contract");
    for (const name of ["qty_step", "price_tick", "min_qty", "min_notional", "maintenance_margin_rate", "max_leverage"]) {
      field(contract, `contract.${name}`, name.replace(/_/g, " "), "");
    }
  }

  function fillSelect(id, values, labels = null) {
    RM.fill($(id), values.map((v, i) => RM.html`<option value="${v}">${labels ? labels[i] : v}</option>`));
  }

  function fillDatasets(selected = null) {
    const list = opts.datasets;
    RM.fill($("bt-dataset"), list.length ? list.map((d) => RM.html`<option value="${d.id}" ${d.id === selected ? "selected" : ""}>
      #${d.id} ${d.name} · ${d.symbol} ${d.timeframe} · ${d.bars} bars</option>`) : RM.html`<option value="">no dataset uploaded yet</option>`);
  }

  async function updateSymbols() {
    const source = $("bt-source").value;
    $("bt-csv-box").classList.toggle("d-none", source !== "csv");
    if (source === "csv") useDataset($("bt-dataset").value);
    if (!(source in opts.symbols)) {
      // an exchange's symbol list is fetched on demand (the candle store caches it)
      $("bt-symbols").replaceChildren();
      const res = await RM.api(`/api/backtests/symbols?source=${encodeURIComponent(source)}`);
      if (!res.ok) { showError(res.data); return; }
      opts.symbols[source] = res.data.symbols;
    }
    RM.fill($("bt-symbols"), (opts.symbols[source] || []).map((s) => RM.html`<option>${s}</option>`));
  }

  function updateStrategy() {
    const sma = $("bt-strategy").value === "sma_cross";
    form.querySelectorAll(".bt-signals").forEach((el) => el.classList.toggle("d-none", sma));
    form.querySelectorAll(".bt-sma").forEach((el) => el.classList.toggle("d-none", !sma));
  }

  // the settings of a preset on top of the defaults, written into the form
  function applyPreset(name) {
    const preset = opts.presets.find((p) => p.name === name);
    const merged = JSON.parse(JSON.stringify(opts.defaults));
    const p = preset ? preset.params : {};
    for (const [k, v] of Object.entries(p)) {
      if (["limits", "signal", "contract"].includes(k) && v && typeof v === "object") merged[k] = Object.assign({}, merged[k], v);
      else merged[k] = v;
    }
    const limitDefaults = Object.fromEntries(opts.limit_fields.map((f) => [f.name, f.default]));
    const signalDefaults = Object.assign({}, opts.signal_defaults);
    const values = { ...merged };
    delete values.limits; delete values.signal; delete values.contract;
    for (const [k, v] of Object.entries({ ...limitDefaults, ...(merged.limits || {}) })) values[`limits.${k}`] = v;
    const sig = { ...signalDefaults, ...(merged.signal || {}) };
    const ind = { ...signalDefaults.indicators, ...((merged.signal || {}).indicators || {}) };
    for (const [k, v] of Object.entries(sig)) if (k !== "indicators") values[`signal.${k}`] = v;
    for (const [k, v] of Object.entries(ind)) values[`signal.indicators.${k}`] = v;
    for (const k of ["qty_step", "price_tick", "min_qty", "min_notional", "maintenance_margin_rate", "max_leverage"]) values[`contract.${k}`] = (merged.contract || {})[k] ?? "";
    for (const [name, value] of Object.entries(values)) {
      const el = form.elements[name];
      if (!el || name === "start" || name === "end") continue;
      if (el.type === "checkbox") el.checked = value === true || value === "true";
      else el.value = value ?? "";
    }
    if (merged.start) $("bt-start").value = merged.start.slice(0, 16).replace("T", " ");
    if (merged.end) $("bt-end").value = merged.end.slice(0, 16).replace("T", " ");
    $("bt-preset-help").textContent = preset ? preset.description : "";
    $("bt-delete-preset").disabled = !preset || preset.builtin;
    updateSymbols();
    updateStrategy();
  }

  // the form as settings: every visible value, nested for limits / signal / contract
  function collect() {
    const data = { preset: $("bt-preset").value || null };
    for (const el of form.elements) {
      if (!el.name || el.closest(".d-none")) continue;
      const value = el.type === "checkbox" ? el.checked : el.value.trim();
      if (value === "" && el.type !== "checkbox") continue;
      const path = el.name.split(".");
      let target = data;
      for (const part of path.slice(0, -1)) target = target[part] = target[part] || {};
      target[path[path.length - 1]] = value;
    }
    if (data.source !== "csv") delete data.dataset_id;
    return data;
  }

  // -- runs ----------------------------------------------------------------------------------------------------
  function showProgress(run) {
    const card = $("bt-progress-card");
    const active = run.status === "queued" || run.status === "running";
    card.classList.toggle("d-none", !active);
    $("bt-progress-id").textContent = `#${run.id}`;
    const bar = $("bt-progress-bar");
    bar.style.width = `${run.progress}%`;
    bar.textContent = `${run.progress} %`;
    $("bt-progress-bar-wrap").setAttribute("aria-valuenow", run.progress);
    $("bt-progress-stage").textContent = run.stage;
  }

  function follow(id) {
    if (follower) follower.stop();
    const poller = RM.poll(() => followStep(id, () => poller.stop()), { every: POLL_MS });
    follower = poller;
  }

  async function followStep(id, stop) {
    const res = await RM.api(`/api/backtests/${id}?trades_limit=${TRADES_PAGE}`);
    if (!res.ok) { stop(); showError(res.data); return false; }
    const run = res.data;
    showProgress(run);
    if (run.status === "queued" || run.status === "running") return true;
    stop();
    $("bt-run").disabled = false;
    loadRuns();
    if (run.status === "failed") { showError({ error: `run #${id} failed`, detail: run.error }); return; }
    current = run; tradesOffset = 0;
    BTView.renderRun(run);
  }

  async function openRun(id) {
    const res = await RM.api(`/api/backtests/${id}?trades_limit=${TRADES_PAGE}`);
    if (!res.ok) { showError(res.data); return; }
    if (res.data.status === "done") { current = res.data; tradesOffset = 0; BTView.renderRun(res.data); $("bt-result-card").scrollIntoView({ behavior: "smooth" }); }
    else if (res.data.status === "failed") showError({ error: `run #${id} failed`, detail: res.data.error });
    else follow(id);
  }

  async function pageTrades(delta) {
    if (!current) return;
    tradesOffset = Math.max(0, tradesOffset + delta * TRADES_PAGE);
    const res = await RM.api(`/api/backtests/${current.id}?trades_offset=${tradesOffset}&trades_limit=${TRADES_PAGE}`);
    if (res.ok) BTView.renderTrades(res.data.result.trades);
  }

  async function loadRuns() {
    const res = await RM.api("/api/backtests?limit=100");
    if (!res.ok) return;
    const rows = res.data.runs.map((r) => {
      const s = r.summary || {};
      const ret = RM.signed(s.total_return_pct, 2, " %");
      const status = r.status === "failed" ? RM.html`<span class="text-danger" title="${r.error || ""}">failed</span>` : r.status === "done" ? "done" : `${r.status} ${r.progress} %`;
      const done = r.status === "done";
      return RM.html`<tr data-id="${r.id}"><td><input class="form-check-input" type="radio" name="cmp-a" value="${r.id}" ${done ? "" : "disabled"} aria-label="A"></td>
        <td><input class="form-check-input" type="radio" name="cmp-b" value="${r.id}" ${done ? "" : "disabled"} aria-label="B"></td>
        <td>${r.id}</td><td class="text-nowrap small" title="${RM.dateTime(r.created_at)}">${FMT.dateTime(r.created_at, { zone: false, seconds: false }).slice(5)}</td><td>${r.preset || "custom"}</td>
        <td class="small">${r.symbol} ${r.timeframe}</td><td class="small">${FMT.day(r.start)} – ${FMT.day(r.end)}</td>
        <td class="small">${status}</td><td class="text-end ${ret.cls}">${ret.text}</td>
        <td class="text-end">${s.max_drawdown_pct === undefined || s.max_drawdown_pct === null ? "—" : RM.num(s.max_drawdown_pct, 2) + " %"}</td>
        <td class="text-end">${s.trades ?? "—"}</td>
        <td class="text-nowrap"><button class="btn btn-sm btn-outline-primary py-0" data-open="${r.id}">Open</button>
          <button class="btn btn-sm btn-outline-danger py-0" data-delete="${r.id}" ${r.status === "queued" || r.status === "running" ? "disabled" : ""} aria-label="Delete run ${r.id}"><i class="bi bi-trash"></i></button></td></tr>`;
    });
    RM.fill(document.querySelector("#bt-runs tbody"), RM.join(rows) || RM.html`<tr><td colspan="12" class="text-body-secondary">No run yet.</td></tr>`);
    updateCompareButton();
  }

  function picked(name) { return form.ownerDocument.querySelector(`input[name="${name}"]:checked`)?.value; }
  function updateCompareButton() { const a = picked("cmp-a"), b = picked("cmp-b"); $("bt-compare").disabled = !(a && b && a !== b); }

  async function compare() {
    const [a, b] = await Promise.all([picked("cmp-a"), picked("cmp-b")].map((id) => RM.api(`/api/backtests/${id}?trades_limit=0`)));
    if (!a.ok || !b.ok) { showError((a.ok ? b : a).data); return; }
    BTView.renderCompare(a.data, b.data);
  }

  // -- events --------------------------------------------------------------------------------------------------
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    $("bt-run").disabled = true;
    const res = await RM.api("/api/backtests", { method: "POST", body: collect() });
    if (res.status !== 202) { $("bt-run").disabled = false; showError(res.data); return; }
    showProgress({ id: res.data.id, status: res.data.status, progress: res.data.progress, stage: "queued" });
    loadRuns();
    follow(res.data.id);
  });

  $("bt-preset").addEventListener("change", () => applyPreset($("bt-preset").value));
  $("bt-source").addEventListener("change", updateSymbols);
  $("bt-strategy").addEventListener("change", updateStrategy);
  $("bt-timezone").addEventListener("change", setDefaultRange);
  $("bt-trades-prev").addEventListener("click", () => pageTrades(-1));
  $("bt-trades-next").addEventListener("click", () => pageTrades(1));
  $("bt-compare").addEventListener("click", compare);
  document.querySelector("#bt-runs tbody").addEventListener("change", updateCompareButton);
  document.querySelector("#bt-runs tbody").addEventListener("click", async (event) => {
    const open = event.target.closest("[data-open]");
    if (open) { openRun(open.dataset.open); return; }
    const del = event.target.closest("[data-delete]");
    if (!del) return;
    const id = del.dataset.delete;
    const ok = await confirmDialog(`Delete run #${id}?`, `The run's settings, statistics and trades are removed for good. Other runs are not touched.`, { okLabel: "Delete run" });
    if (!ok) return;
    const res = await RM.api(`/api/backtests/${id}`, { method: "DELETE" });
    if (!res.ok) showError(res.data);
    loadRuns();
  });

  $("bt-save-preset").addEventListener("click", async () => {
    const answer = await confirmDialog("Save as a preset", "Saves every setting of the form except the dates and the dataset. A saved preset of the same name is replaced.",
      { okLabel: "Save preset", danger: false, withInput: true });
    if (!answer || !answer.name) return;
    const params = collect();
    const base = params.preset;
    delete params.preset;
    const res = await RM.api("/api/backtests/presets", { method: "POST", body: { name: answer.name, description: answer.description, params, base } });
    if (!res.ok) { showError(res.data); return; }
    await reloadOptions(answer.name);
  });

  $("bt-delete-preset").addEventListener("click", async () => {
    const name = $("bt-preset").value;
    const ok = await confirmDialog(`Delete preset "${name}"?`, "The saved preset is removed. Past runs made with it keep their settings.", { okLabel: "Delete preset" });
    if (!ok) return;
    const res = await RM.api(`/api/backtests/presets/${encodeURIComponent(name)}`, { method: "DELETE" });
    if (!res.ok) { showError(res.data); return; }
    await reloadOptions("conservative");
  });

  $("bt-csv-upload").addEventListener("click", async () => {
    const file = $("bt-csv-file").files[0];
    const report = $("bt-csv-report");
    if (!file) { RM.fill(report, RM.html`<span class="error-note">Choose a CSV file first.</span>`); return; }
    const body = new FormData();
    body.append("file", file);
    body.append("symbol", $("bt-symbol").value);
    body.append("timeframe", $("bt-timeframe").value);
    report.textContent = "checking…";
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const res = await fetch("/api/backtests/datasets", { method: "POST", body, headers: { "X-CSRFToken": csrf, Accept: "application/json" }, credentials: "same-origin" });
    const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) { RM.fill(report, RM.html`<span class="error-note">${data.detail?.message || data.detail || data.error}</span>`); return; }
    const g = data.gaps;
    const gapText = g.count ? `${g.count} gap(s), ${g.missing_bars} bar(s) missing; first: ${g.first.map((x) => `line ${x.line}: after ${RM.dateTime(x.after)} (${x.missing_bars} missing)`).slice(0, 5).join("; ")}` : "no gaps";
    RM.fill(report, RM.html`<span class="pos">Stored as dataset #${data.id}</span>: ${data.bars} bars, ${RM.dateTime(data.first)} – ${RM.dateTime(data.last_close)}; ${gapText}.`);
    opts.datasets.unshift(data);
    fillDatasets(data.id);
    useDataset(data.id);
  });

  // a dataset brings its own symbol, timeframe and span: start from them (times in UTC, as the file's)
  function useDataset(id) {
    const d = opts.datasets.find((x) => String(x.id) === String(id));
    if (!d) return;
    $("bt-symbol").value = d.symbol;
    $("bt-timeframe").value = d.timeframe;
    $("bt-timezone").value = "UTC";
    $("bt-start").value = d.first.slice(0, 16).replace("T", " ");
    $("bt-end").value = d.last_close.slice(0, 16).replace("T", " ");
  }
  $("bt-dataset").addEventListener("change", () => useDataset($("bt-dataset").value));

  async function reloadOptions(select) {
    const res = await RM.api("/api/backtests/options");
    if (!res.ok) { showError(res.data); return; }
    opts = res.data;
    fillSelect("bt-preset", opts.presets.map((p) => p.name), opts.presets.map((p) => p.builtin ? p.label : `${p.label} (saved)`));
    $("bt-preset").value = select;
    applyPreset(select);
  }

  async function init() {
    const res = await RM.api("/api/backtests/options");
    if (!res.ok) { showError(res.data); return; }
    opts = res.data;
    fillSelect("bt-source", opts.sources);
    fillSelect("bt-timeframe", opts.timeframes);
    fillDatasets();
    buildGroups();
    fillSelect("bt-preset", opts.presets.map((p) => p.name), opts.presets.map((p) => p.builtin ? p.label : `${p.label} (saved)`));
    applyPreset("conservative");
    setDefaultRange();
    loadRuns();
  }

  init();
})();
