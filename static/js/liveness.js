/* Liveness on every page: the "connection lost since …" banner (fed by every RM.api call), the poller's heartbeat
   (/api/liveness; a stopped poller is a red banner), figures greyed by their age between refreshes, and tables
   that turn into cards on a phone (each cell labelled from its column header). */
"use strict";

const RMLive = (() => {
  const body = document.body;
  const tz = RM.tz;
  let staleAfterS = Number(body.dataset.staleAfter || 30);
  const pollS = Math.max(1, Number(body.dataset.pollSeconds || 5));
  let serverOffsetMs = 0;  // the server's clock minus this browser's, from the Date header of every answer
  let lostSince = null;
  const dayFmt = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });

  const serverNow = () => Date.now() + serverOffsetMs;

  /* "14:40:53 UTC", or "2026-12-01 14:40:53 UTC" when that moment is not today (in the display zone). */
  function since(iso) {
    if (!iso) return "—";
    const t = new Date(iso);
    return dayFmt.format(t) === dayFmt.format(new Date(serverNow())) ? RM.time(iso) : RM.dateTime(iso);
  }

  function connection(ok, reason, res) {
    const date = res && res.headers && res.headers.get("Date");
    if (ok && date && Number.isFinite(Date.parse(date))) serverOffsetMs = Date.parse(date) + 500 - Date.now();
    const banner = document.getElementById("connection-banner");
    if (ok) {
      if (lostSince !== null && banner) banner.classList.add("d-none");
      lostSince = null;
      body.classList.remove("connection-lost");
      return;
    }
    if (lostSince === null) lostSince = new Date(serverNow()).toISOString();
    body.classList.add("connection-lost");
    if (!banner) return;
    banner.querySelector(".banner-text").textContent =
      `Connection lost since ${since(lostSince)} — ${reason}. Nothing on this page is being updated.`;
    banner.classList.remove("d-none");
    ageAll();
  }

  /* Grey every figure stamped with data-fetched-at that is older than the limit, whatever the last answer said. */
  function ageAll() {
    const now = serverNow();
    document.querySelectorAll("[data-fetched-at]").forEach((el) => {
      const fetched = el.dataset.fetchedAt;
      const old = !fetched || now - Date.parse(fetched) > staleAfterS * 1000;
      const serverStale = el.dataset.status && el.dataset.status !== "ok";
      el.classList.toggle("stale", old || Boolean(serverStale));
      el.classList.toggle("stale-by-age", old && !serverStale);
      const badge = el.querySelector("[data-live-status]");
      if (badge && !serverStale && fetched) {  // never "ok" next to figures older than the limit
        badge.textContent = old ? "stale" : "ok";
        badge.className = `badge text-bg-${old ? "warning" : "success"}`;
      }
      const note = el.querySelector(".age-note");
      if (!note || serverStale || !fetched) return;
      if (old) {
        const why = lostSince !== null ? "connection to the server lost" : `no new data for longer than the ${staleAfterS} s limit`;
        note.className = "small stale-note age-note";
        note.textContent = `stale since ${since(fetched)} — ${why}`;
      } else {
        note.className = "small text-body-secondary age-note";
        note.textContent = `data from ${since(fetched)}`;
      }
    });
  }

  /* Stamp table rows with their account's read time and status (rows[i] belongs to owners[i]). */
  function stampRows(tbody, owners) {
    if (!tbody) return;
    [...tbody.rows].forEach((row, i) => {
      const a = owners[i];
      if (!a) return;
      row.dataset.fetchedAt = a.fetched_at || "";
      row.dataset.status = a.status;
    });
    ageAll();
  }

  function showHeartbeat(p) {
    const cls = { running: "text-body-secondary", stopped: "error-note", never: "stale-note" }[p.state] || "";
    const text = p.state === "never" ? "poller: no poll cycle has run yet"
      : p.state === "stopped" ? `poller STOPPED: no poll cycle since ${since(p.last_started_at)}`
        : `poller: last cycle ${since(p.last_started_at)}, took ${RM.num(p.duration_s, 2)} s · ${p.accounts_ok} read, ${p.accounts_failed} failed · every ${p.poll_seconds} s`;
    document.querySelectorAll(".poller-heartbeat").forEach((el) => {
      el.className = `poller-heartbeat small ${cls}`;
      el.dataset.state = p.state;
      el.textContent = text;
    });
    const banner = document.getElementById("poller-banner");
    if (!banner) return;
    banner.classList.toggle("d-none", p.state === "running");
    banner.classList.toggle("alert-danger", p.state === "stopped");
    banner.classList.toggle("alert-warning", p.state === "never");
    banner.querySelector(".banner-text").textContent = p.state === "stopped"
      ? `Poller stopped: no poll cycle since ${since(p.last_started_at)} (limit ${p.stopped_after_seconds} s). Every figure is ageing; new risk is denied on stale data.`
      : "The poller has not run a cycle yet: no account has been read.";
  }

  async function heartbeat() {
    const res = await RM.api("/api/liveness");
    if (!res.ok) return false;
    if (!res.data.poller) return true;
    staleAfterS = Number(res.data.stale_after_seconds) || staleAfterS;
    showHeartbeat(res.data.poller);
    ageAll();
  }

  /* Phone cards: label every cell of a .table-cards table with its column's header (for td::before). */
  function labelCells(table) {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((tr) => {
      [...tr.cells].forEach((td, i) => { if (td.colSpan === 1 && td.dataset.label === undefined) td.dataset.label = heads[i] || ""; });
    });
  }

  function watchTables() {
    document.querySelectorAll("table.table-cards").forEach((table) => {
      labelCells(table);
      new MutationObserver(() => labelCells(table)).observe(table, { childList: true, subtree: true });
    });
  }

  /* The phone bar's trading-state chip follows the state banner (which every page's refresh updates). */
  function followState() {
    const banner = document.getElementById("state-banner");
    const chip = document.getElementById("state-chip");
    if (!banner || !chip) return;
    const copy = () => {
      const state = banner.dataset.state || "";
      chip.textContent = state;
      chip.className = `badge d-lg-none me-2 state-chip state-${state.toLowerCase()}`;
    };
    new MutationObserver(copy).observe(banner, { attributes: true, attributeFilter: ["data-state"] });
  }

  /* Charts on a phone: fewer, unrotated tick labels that skip rather than overlap (before any page draws one). */
  window.addEventListener("DOMContentLoaded", () => {
    if (!window.Chart || window.innerWidth >= 576) return;
    Object.assign(Chart.defaults.scale.ticks, { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 });
    Chart.defaults.font.size = 10;
  });

  RM.onConnection(connection);
  followState();
  watchTables();
  if (document.getElementById("connection-banner")) {  // logged in: the banners exist
    // back-off capped at 30 s so a server that comes back is noticed soon
    RM.poll(heartbeat, { every: Math.max(5, pollS) * 1000, backoffMax: 30000 });
  }
  RM.poll(ageAll, { every: 1000 });

  return { since, stampRows, ageAll, serverNow, staleAfter: () => staleAfterS, lost: () => lostSince !== null };
})();
