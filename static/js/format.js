/* riskmgr formatting: Decimal strings rounded as text (never through float), amounts with units, one date format
   ("2026-12-02 14:40:53 UTC") in the display time zone, human durations, rule labels, gaps in time series. */
"use strict";

const FMT = (() => {
  const tz = document.body.dataset.displayTz || "UTC";
  const DECIMAL = /^(-?)(\d*)(?:\.(\d*))?$/;
  const LABELS = (() => {
    try { return JSON.parse(document.getElementById("rm-labels")?.textContent || "{}"); } catch (e) { return {}; }
  })();

  function group(intPart) {
    return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // Round a decimal string half away from zero to ``places`` places, as text: "9997.42893073" -> "9,997.43".
  function roundText(text, places) {
    const m = DECIMAL.exec(text.trim());
    if (!m || (m[2] === "" && !m[3])) return null;
    const [, sign, intPart = "", frac = ""] = m;
    let digits = (intPart || "0") + frac.slice(0, places).padEnd(places, "0");
    if (frac.length > places && frac[places] >= "5") digits = (BigInt(digits) + 1n).toString();
    digits = digits.replace(/^0+(?=\d)/, "").padStart(places + 1, "0");
    const whole = places ? digits.slice(0, -places) : digits;
    const shown = group(whole) + (places ? "." + digits.slice(-places) : "");
    return sign && /[1-9]/.test(digits) ? "-" + shown : shown;
  }

  function plain(value) {
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return null;
      return Math.abs(value) < 1e21 ? value.toFixed(Math.min(20, Math.max(0, -Math.floor(Math.log10(Math.abs(value) || 1)) + 12))) : null;
    }
    return String(value);
  }

  // A number or decimal string with exactly ``places`` places and thousands separators; "—" when there is none.
  function decimal(value, places = 2) {
    if (value === null || value === undefined || value === "") return "—";
    const text = plain(value);
    const out = text === null ? null : roundText(text, places);
    return out === null ? "—" : out;
  }

  // Money in USDT: "9,997.43 USDT".
  function usdt(value, places = 2) {
    const text = decimal(value, places);
    return text === "—" ? text : `${text} USDT`;
  }

  // Places a tick allows: "0.0001" -> 4, "0.5" -> 1, "1" -> 0.
  function tickPlaces(tick) {
    if (tick === null || tick === undefined || tick === "") return null;
    const frac = String(tick).split(".")[1] || "";
    return frac.replace(/0+$/, "").length;
  }

  // A price at the market's tick; without a tick, by magnitude (2 places from 1,000, 4 from 1, else 6).
  function price(value, tick = null) {
    if (value === null || value === undefined || value === "") return "—";
    let places = tickPlaces(tick);
    if (places === null) {
      const n = Math.abs(Number(value));
      places = n >= 1000 ? 2 : n >= 1 ? 4 : 6;
    }
    return decimal(value, places);
  }

  // A quantity as the venue gave it, without trailing zeros ("0.500" -> "0.5").
  function qty(value) {
    if (value === null || value === undefined || value === "") return "—";
    const text = plain(value);
    if (text === null || !DECIMAL.test(text)) return "—";
    return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  }

  // How long, the way a person says it: "2.0 s", "45 s", "12 min", "3.5 h", "2.0 d".
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const v = Math.abs(Number(seconds));
    const sign = Number(seconds) < 0 ? "-" : "";
    if (v < 10) return `${sign}${v.toFixed(1)} s`;
    if (v < 90) return `${sign}${v.toFixed(0)} s`;
    if (v < 5400) return `${sign}${(v / 60).toFixed(0)} min`;
    if (v < 172800) return `${sign}${(v / 3600).toFixed(1)} h`;
    return `${sign}${(v / 86400).toFixed(1)} d`;
  }

  const partsFmt = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function parts(date) {
    return Object.fromEntries(partsFmt.formatToParts(date).map((x) => [x.type, x.value]));
  }

  function toDate(value) {
    if (value === null || value === undefined || value === "") return null;
    const d = value instanceof Date ? value : new Date(typeof value === "number" ? value : String(value));
    return Number.isNaN(d.getTime()) ? null : d;
  }

  // The one date format: "2026-12-02 14:40:53 UTC" (zone shown), in the display time zone.
  function dateTime(value, { zone = true, seconds = true } = {}) {
    const d = toDate(value);
    if (!d) return "—";
    const p = parts(d);
    const text = `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? ":" + p.second : ""}`;
    return zone ? `${text} ${tz}` : text;
  }

  function time(value, { zone = true, seconds = true } = {}) {
    const d = toDate(value);
    if (!d) return "—";
    const p = parts(d);
    const text = `${p.hour}:${p.minute}${seconds ? ":" + p.second : ""}`;
    return zone ? `${text} ${tz}` : text;
  }

  function day(value) {
    const d = toDate(value);
    if (!d) return "—";
    const p = parts(d);
    return `${p.year}-${p.month}-${p.day}`;
  }

  // The time alone when it is today in the display zone, the full date otherwise.
  function when(value, now = new Date()) {
    return day(value) === day(now) ? time(value) : dateTime(value);
  }

  // The offset of the display zone from UTC at ``date``, in ms.
  function tzOffset(date) {
    const p = parts(date);
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - date.getTime();
  }

  const INPUT = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

  // A typed "YYYY-MM-DD HH:MM[:SS]" read as wall time in the display zone -> ISO instant; "" for empty, null if bad.
  function parseInput(text) {
    const value = (text || "").trim();
    if (!value) return "";
    const m = INPUT.exec(value);
    if (!m) return null;
    const [y, mo, d, h = "00", mi = "00", s = "00"] = m.slice(1).map((x) => x);
    const asUtc = Date.UTC(+y, +mo - 1, +d, +(h || 0), +(mi || 0), +(s || 0));
    const check = new Date(asUtc);
    if (check.getUTCMonth() !== +mo - 1 || check.getUTCDate() !== +d || +(h || 0) > 23 || +(mi || 0) > 59 || +(s || 0) > 59) return null;
    let instant = asUtc - tzOffset(check);
    instant = asUtc - tzOffset(new Date(instant));  // a second pass settles DST edges
    return new Date(instant).toISOString();
  }

  // An instant as the input format, in the display zone (no zone suffix: the label names it).
  function toInput(value, seconds = false) {
    return dateTime(value, { zone: false, seconds });
  }

  // Chart points {x, y} with a {x, y: null} break wherever two readings lie further apart than ``gapMs``.
  function gapped(points, gapMs) {
    if (!gapMs || points.length < 2) return points;
    const out = [points[0]];
    for (let i = 1; i < points.length; i += 1) {
      if (points[i].x - points[i - 1].x > gapMs) out.push({ x: (points[i].x + points[i - 1].x) / 2, y: null });
      out.push(points[i]);
    }
    return out;
  }

  const esc = (t) => String(t ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  // The human words for a rule name (from riskmgr/labels.py, sent with the page): "max_leverage" -> "Maximum leverage".
  function ruleLabel(name, label = null) {
    return label || (LABELS.rules || {})[name] || (LABELS.limits || {})[name] ||
      String(name || "").replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  }

  // The human label of a rule as HTML, with its machine name on hover.
  function rule(name, label = null) {
    return `<span class="rule-name" title="${esc(name)}">${esc(ruleLabel(name, label))}</span>`;
  }

  return { decimal, usdt, price, qty, duration, dateTime, time, day, when, parseInput, toInput, gapped, rule, ruleLabel, tickPlaces, tz };
})();
