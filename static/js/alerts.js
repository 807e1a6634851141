/* Alerts page: channel health, per-kind switches (switching off asks first), test alert, history. */
"use strict";

(() => {
  const REFRESH_MS = 15000;
  const badges = { sent: "success", logged: "secondary", partial: "warning", failed: "danger", rate_limited: "info", dropped: "danger" };
  const el = (id) => document.getElementById(id);
  const offModal = new bootstrap.Modal(el("alerts-off-modal"));
  let pendingOff = null;

  function channelLine(ch, external) {
    const icon = ch.name === "log" ? "bi-journal-text" : ch.name === "telegram" ? "bi-telegram" : "bi-envelope";
    return RM.html`<li><i class="bi ${icon}"></i> <strong>${ch.name}</strong> <span class="text-body-secondary">${ch.detail}</span></li>${
      external.length === 0 && ch.name === "log" ? RM.html`<li class="small stale-note">No Telegram or e-mail channel configured: alerts reach the log only.</li>` : ""}`;
  }

  function renderStatus(s) {
    RM.fill(el("alerts-channels"), s.channels.map((c) => channelLine(c, s.external_channels)));
    const health = el("alerts-health");
    // green only once a real channel (Telegram / e-mail) delivered; the log alone reaches nobody
    const look = { healthy: "success", failing: "danger", log_only: "warning", untested: "secondary" }[s.health] || "secondary";
    health.className = `badge text-bg-${look}`;
    health.dataset.health = s.health;
    health.textContent = s.health_text;
    health.title = s.health === "healthy" ? `last delivered to a real channel ${RM.dateTime(s.last_external_delivery.handled_at)}`
      : s.health === "log_only" ? "No Telegram or e-mail channel is configured: alerts are only written to the log"
        : s.health === "untested" ? "A real channel is configured but has not delivered an alert yet: send a test alert" : "";
    const box = el("alerts-failure");
    if (s.last_failure && !s.healthy) {
      const f = s.last_failure;
      RM.fill(box, RM.html`<strong>Alert delivery failed</strong> at ${RM.dateTime(f.handled_at)} (${f.kind}): ${f.error}`);
      box.classList.remove("d-none");
    } else {
      box.classList.add("d-none");
    }
    el("alerts-last-delivered").textContent = s.last_delivered ? RM.dateTime(s.last_delivered.handled_at) : "never";
    const c = s.last_24h;
    el("alerts-counts").textContent = `${c.sent + c.logged} delivered, ${c.failed + c.partial} failed, ${c.rate_limited} held back`;
  }

  function toggleRow(t) {
    const crit = t.critical ? RM.html` <span class="badge text-bg-danger" title="never held back by the rate limit">critical</span>` : "";
    const changed = t.overridden ? RM.html`<div class="small text-body-secondary">set by ${t.changed_by} ${RM.dateTime(t.changed_at)}</div>` : "";
    return RM.html`<tr><td><code>${t.kind}</code>${crit}</td><td class="small">${t.description}${changed}</td>
      <td class="small">${t.default ? "on" : "off"}</td>
      <td class="text-end"><div class="form-check form-switch d-inline-block mb-0">
        <input class="form-check-input alert-toggle" type="checkbox" role="switch" data-kind="${t.kind}"
          data-description="${t.description}" aria-label="Alerts for ${t.kind}" ${t.enabled ? "checked" : ""}></div></td></tr>`;
  }

  function renderToggles(list) {
    RM.fill(el("alerts-toggles").querySelector("tbody"), list.map(toggleRow));
  }

  function channelsCell(channels) {
    const parts = Object.entries(channels || {}).map(([name, o]) =>
      o.ok ? RM.html`<span class="badge text-bg-success">${name}</span>` :
        RM.html`<span class="badge text-bg-danger" title="${o.error}">${name}</span> <span class="small">${o.error}</span>`);
    return RM.join(parts, " ") || "—";
  }

  function historyRow(a) {
    const repeats = a.repeats ? RM.html` <span class="small text-body-secondary">(+${a.repeats} identical held back)</span>` : "";
    const error = a.error && !Object.keys(a.channels || {}).length ? RM.html`<div class="small">${a.error}</div>` : "";
    return RM.html`<tr><td class="text-nowrap">${RM.dateTime(a.ts)}</td><td><code>${a.kind}</code></td>
      <td>${a.account || "—"}</td><td>${a.message}${repeats}</td>
      <td><span class="badge text-bg-${badges[a.status] || "secondary"}">${a.status}</span>${error}</td>
      <td>${channelsCell(a.channels)}</td></tr>`;
  }

  function renderHistory(list) {
    RM.fill(el("alerts-history").querySelector("tbody"), list.length
      ? list.map(historyRow) : RM.html`<tr><td colspan="6" class="text-body-secondary">No alerts recorded.</td></tr>`);
  }

  async function refresh() {
    const filter = el("alerts-status-filter").value;
    const [status, history] = await Promise.all([
      RM.api("/api/alerts/status"), RM.api("/api/alerts?limit=200" + (filter ? `&status=${encodeURIComponent(filter)}` : "")),
    ]);
    if (!status.ok || !history.ok) {
      el("alerts-refresh").textContent = `could not refresh: ${(status.ok ? history : status).data.detail || "error"}`;
      return false;
    }
    renderStatus(status.data);
    renderHistory(history.data.alerts);
    el("alerts-refresh").textContent = `updated ${RM.time(new Date().toISOString())}`;
  }

  async function loadToggles() {
    const res = await RM.api("/api/alerts/toggles");
    if (res.ok) renderToggles(res.data.toggles);
  }

  async function setToggle(kind, enabled, input) {
    input.disabled = true;
    const res = await RM.api("/api/alerts/toggles", { method: "PUT", body: { kind, enabled } });
    if (res.ok) {
      renderToggles(res.data.toggles);
    } else {
      input.checked = !enabled;
      input.disabled = false;
      el("alerts-refresh").textContent = `not changed: ${res.data.detail?.message || res.data.detail || res.data.error}`;
    }
  }

  el("alerts-toggles").addEventListener("change", (ev) => {
    const input = ev.target.closest(".alert-toggle");
    if (!input) return;
    if (input.checked) { setToggle(input.dataset.kind, true, input); return; }
    input.checked = true; // stays on until the operator confirms
    pendingOff = input;
    RM.fill(el("alerts-off-body"), RM.html`You will no longer be alerted on any channel when: <strong>${input.dataset.description}</strong>
      (<code>${input.dataset.kind}</code>). The change applies to every worker and is recorded in the audit log.`);
    offModal.show();
  });

  el("alerts-off-confirm").addEventListener("click", () => {
    offModal.hide();
    if (!pendingOff) return;
    pendingOff.checked = false;
    setToggle(pendingOff.dataset.kind, false, pendingOff);
    pendingOff = null;
  });

  el("alerts-test-btn").addEventListener("click", async () => {
    const btn = el("alerts-test-btn");
    const out = el("alerts-test-result");
    btn.disabled = true;
    el("alerts-test-spinner").classList.remove("d-none");
    out.textContent = "sending through every channel…";
    const res = await RM.api("/api/alerts/test", { method: "POST", body: {} });
    btn.disabled = false;
    el("alerts-test-spinner").classList.add("d-none");
    if (!res.ok) { RM.fill(out, RM.html`<span class="text-danger">${res.data.detail || res.data.error}</span>`); return; }
    const lines = Object.entries(res.data.channels).map(([name, o]) =>
      RM.html`<div>${name}: ${o.ok ? RM.html`<span class="text-success">delivered</span>` : RM.html`<span class="text-danger">failed — ${o.error}</span>`}</div>`);
    RM.fill(out, lines, res.data.status === "logged" ? RM.html`<div class="stale-note">Only the log is configured.</div>` : "");
    poller.now();
  });

  el("alerts-status-filter").addEventListener("change", () => poller.now());
  loadToggles();
  const poller = RM.poll(refresh, { every: REFRESH_MS });
})();
