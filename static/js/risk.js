/* Risk page: trading state and re-arm, rule headroom per account (refreshed), and the limits form (confirmed). */
"use strict";

(() => {
  const REFRESH_MS = 10000;
  const alertBox = document.getElementById("risk-alert");
  const form = document.getElementById("limits-form");
  const tbody = document.querySelector("#limits-table tbody");
  const limitsStatus = document.getElementById("limits-status");
  const confirmModal = new bootstrap.Modal(document.getElementById("limits-confirm"));
  const rearmModal = new bootstrap.Modal(document.getElementById("rearm-modal"));
  let fields = [];          // the limits table as last loaded (value = in force)
  let pending = {};         // the changes awaiting confirmation
  let formDirty = false;

  const STATUS = {
    ok: ["success", "ok"], warn: ["warning", "warning"], breached: ["danger", "denies new risk"],
    unknown: ["danger", "unknown: denies new risk"],
  };

  function showAlert(kind, html) {
    RM.fill(alertBox, RM.html`<div class="alert alert-${kind} alert-dismissible fade show" role="alert">${html}
      <button type="button" class="btn-close" data-bs-dismiss="alert" aria-label="Close"></button></div>`);
  }

  // -- trading state -------------------------------------------------------------------------------------------
  function renderState(ts) {
    RM.setBanner(ts);
    const badge = document.getElementById("state-badge");
    badge.textContent = ts.state;
    badge.className = `badge fs-6 text-bg-${{ ACTIVE: "success", REDUCING: "warning", HALTED: "danger" }[ts.state] || "secondary"}`;
    document.getElementById("state-reason").textContent = ts.reason;
    document.getElementById("state-since").textContent = `since ${RM.dateTime(ts.changed_at)} by ${ts.changed_by}`;
    document.getElementById("rearm-open").classList.toggle("d-none", ts.state === "ACTIVE");
    document.getElementById("rearm-from").textContent = ts.state;
  }

  // -- headroom ------------------------------------------------------------------------------------------------
  function bar(row) {
    if (row.fraction === null || row.fraction === undefined) return "";
    const pct = Math.round(Number(row.fraction) * 100);
    const cls = STATUS[row.status] ? STATUS[row.status][0] : "secondary";
    return RM.html`<div class="progress progress-thin" role="progressbar" aria-label="${row.label} used" aria-valuenow="${pct}" aria-valuemin="0" aria-valuemax="100">
      <div class="progress-bar bg-${cls}" data-pct="${pct}"></div></div>`;
  }

  function ruleRow(row) {
    const [cls, word] = STATUS[row.status] || ["secondary", row.status];
    const unit = row.unit ? ` ${row.unit}` : "";
    const used = row.used !== null ? `${row.used}${unit} of ${row.limit}${unit}` : (row.limit !== null ? `limit ${row.limit}${unit}` : "");
    const room = row.headroom !== null ? `${row.headroom} ${row.headroom_unit || ""}` : "—";
    return RM.html`<tr data-rule="${row.rule}" data-status="${row.status}">
      <td><span title="${row.rule}">${row.label}</span></td><td><span class="badge text-bg-${cls}">${word}</span></td>
      <td class="num text-nowrap">${used}${bar(row)}</td><td class="num text-nowrap">${room}</td>
      <td class="small">${row.detail}</td></tr>`;
  }

  function accountCard(a) {
    const when = a.fetched_at ? `figures from ${RM.dateTime(a.fetched_at)}` : "never read";
    const note = a.status !== "ok" ? RM.html`<div class="small ${a.status === "error" ? "error-note" : "stale-note"}">${a.status}: ${a.error} (${when})</div>`
      : RM.html`<div class="small text-body-secondary">${when}</div>`;
    return RM.html`<div class="col-12"><div class="card h-100" data-account="${a.account}">
      <div class="card-header d-flex justify-content-between"><strong>${a.account}</strong>
        <span class="num">${a.equity !== null ? "equity " + FMT.usdt(a.equity) : "no figures"}</span></div>
      <div class="card-body p-2">${note}
        <div class="table-responsive"><table class="table table-sm align-middle mb-0">
          <thead><tr><th class="col-w-11">Rule</th><th class="col-w-9">Status</th><th class="col-w-13">Used of limit</th>
            <th class="col-w-14">Headroom</th><th>Detail</th></tr></thead>
          <tbody>${a.rules.map(ruleRow)}</tbody></table></div></div></div></div>`;
  }

  function renderHeadroom(view) {
    const box = document.getElementById("headroom");
    if (view.limits_error) {
      RM.fill(box, RM.html`<div class="col-12"><div class="alert alert-danger mb-0">The limits cannot be read: ${view.limits_error}. Every order is refused until they are fixed below.</div></div>`);
      return;
    }
    RM.fill(box, RM.join(view.accounts.map(accountCard)) || RM.html`<div class="col-12 text-body-secondary">No accounts are configured.</div>`);
    // widths through the CSSOM: the Content-Security-Policy refuses style="" attributes in markup
    box.querySelectorAll(".progress-bar[data-pct]").forEach((el) => { el.style.width = `${el.dataset.pct}%`; });
  }

  // -- limits form ---------------------------------------------------------------------------------------------
  function input(f) {
    const id = `limit-${f.name}`;
    const value = f.value !== null ? f.value : (f.stored !== null ? f.stored : f.environment);
    if (f.type === "bool") {
      return RM.html`<div class="form-check form-switch"><input class="form-check-input" type="checkbox" role="switch" id="${id}" name="${f.name}" ${value ? "checked" : ""}>
        <label class="form-check-label small" for="${id}">${value ? "on" : "off"}</label></div>`;
    }
    if (f.type === "choice") {
      return RM.html`<select class="form-select form-select-sm" id="${id}" name="${f.name}">${f.choices.map((c) =>
        RM.html`<option ${c === value ? "selected" : ""}>${c}</option>`)}</select>`;
    }
    const mode = f.type === "int" ? "numeric" : f.type === "decimal" ? "decimal" : "text";
    return RM.html`<input class="form-control form-control-sm" id="${id}" name="${f.name}" inputmode="${mode}" value="${value}" autocomplete="off">`;
  }

  function renderForm(view) {
    fields = view.fields;
    formDirty = false;
    RM.fill(tbody, fields.map((f) => RM.html`<tr data-field="${f.name}">
      <td><label for="limit-${f.name}" title="${f.name}">${f.label || f.name}</label>${f.changed ? RM.html` <span class="badge text-bg-info">changed</span>` : ""}</td>
      <td>${input(f)}<div class="invalid-feedback"></div></td>
      <td>${f.unit}</td><td class="small">${f.allowed}</td>
      <td class="small">${String(f.environment)}</td><td class="small">${f.help}</td></tr>`));
  }

  function currentValue(f) {
    const el = form.elements[f.name];
    return f.type === "bool" ? el.checked : el.value.trim();
  }

  function differs(f, now) {
    const old = f.value;
    if (f.type === "bool") return now !== old;
    if ((f.type === "decimal" || f.type === "int") && now !== "" && Number.isFinite(Number(now)) && old !== null) {
      return Number(now) !== Number(old);
    }
    return String(now) !== String(old);
  }

  function changes() {
    const out = {};
    for (const f of fields) {
      const now = currentValue(f);
      if (differs(f, now)) out[f.name] = now;
    }
    return out;
  }

  function clearErrors() {
    form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
  }

  function fieldError(name, message) {
    const row = tbody.querySelector(`tr[data-field="${CSS.escape(name)}"]`);
    if (!row) return false;
    const el = row.querySelector("input, select");
    el.classList.add("is-invalid");
    row.querySelector(".invalid-feedback").textContent = message;
    el.focus();
    return true;
  }

  form.addEventListener("input", (ev) => {
    formDirty = true;
    if (ev.target.type === "checkbox") ev.target.nextElementSibling.textContent = ev.target.checked ? "on" : "off";
  });

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearErrors();
    pending = changes();
    const names = Object.keys(pending);
    if (!names.length) {
      limitsStatus.textContent = "Nothing changed.";
      return;
    }
    const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
    RM.fill(document.getElementById("limits-confirm-list"), names.map((n) => {
      const unit = byName[n].unit ? ` ${byName[n].unit}` : "";
      return RM.html`<li><span title="${n}">${byName[n].label || n}</span>: ${String(byName[n].value)}${unit} → <strong>${String(pending[n])}${unit}</strong></li>`;
    }));
    confirmModal.show();
  });

  document.getElementById("limits-confirm-ok").addEventListener("click", async () => {
    const button = document.getElementById("limits-confirm-ok");
    button.disabled = true;
    const res = await RM.api("/api/risk/limits", { method: "PUT", body: pending });
    button.disabled = false;
    confirmModal.hide();
    if (res.status === 400) {
      const d = res.data.detail || {};
      const named = (fields.find((f) => f.name === d.field) || {}).label || d.field || "limits";
      if (!fieldError(d.field, d.message)) showAlert("warning", RM.html`Not saved — <strong title="${d.field}">${named}</strong>: ${d.message || res.data.error}`);
      RM.fill(limitsStatus, RM.html`<span class="text-warning">Not saved: <span title="${d.field}">${named}</span> — ${d.message}</span>`);
      return;
    }
    if (!res.ok) {
      showAlert("danger", `Not saved: ${res.data.error} — ${JSON.stringify(res.data.detail)}`);
      return;
    }
    const label = (k) => (fields.find((f) => f.name === k) || {}).label || k;
    const changed = Object.entries(res.data.changed).map(([k, v]) => `${label(k)}: ${v.old} → ${v.new}`).join(", ");
    RM.fill(limitsStatus, RM.html`<span class="text-success">Saved at ${RM.time(new Date().toISOString())}${changed ? ": " + changed : " (no change)"}</span>`);
    await load(true);
  });

  document.getElementById("limits-reset").addEventListener("click", () => load(true));

  // -- re-arm --------------------------------------------------------------------------------------------------
  document.getElementById("rearm-open").addEventListener("click", () => {
    const reason = document.getElementById("rearm-reason");
    reason.value = "";
    reason.classList.remove("is-invalid");
    rearmModal.show();
  });

  document.getElementById("rearm-ok").addEventListener("click", async () => {
    const reason = document.getElementById("rearm-reason");
    const error = document.getElementById("rearm-error");
    if (!reason.value.trim()) {
      reason.classList.add("is-invalid");
      error.textContent = "A reason is required.";
      return;
    }
    const res = await RM.api("/api/rearm", { method: "POST", body: { reason: reason.value } });
    if (!res.ok) {
      reason.classList.add("is-invalid");
      error.textContent = (res.data.detail && res.data.detail.message) || res.data.error;
      return;
    }
    rearmModal.hide();
    showAlert("success", `Re-armed: ${res.data.previous} → ACTIVE.`);
    await load(false);
  });

  // -- loading -------------------------------------------------------------------------------------------------
  async function load(withForm) {
    const res = await RM.api("/api/risk");
    const status = document.getElementById("risk-refresh");
    if (!res.ok) {
      RM.fill(status, RM.html`<span class="error-note">refresh failed at ${RM.time(new Date().toISOString())}: ${res.data.error} — figures below are from the last good load</span>`);
      return false;
    }
    const view = res.data;
    renderState(view.trading_state);
    renderHeadroom(view);
    if (withForm || !formDirty) renderForm(view);
    if (view.limits_error) showAlert("danger", `Stored limits do not fit the environment: ${view.limits_error}`);
    status.textContent = `updated ${RM.time(view.generated_at)}`;
  }

  load(true);
  RM.poll(() => load(false), { every: REFRESH_MS, immediate: false });
})();
