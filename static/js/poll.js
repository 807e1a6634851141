/* RM.poll: the one polling loop every page uses (issue 12). One fetch in flight per poller, exponential back-off
   on failure (capped, reset on the next success), paused while the tab is hidden and run at once when it shows. */
"use strict";

RM.poll = (fn, { every, backoffMax = 60000, immediate = true } = {}) => {
  const period = () => (typeof every === "function" ? every() : every);
  let failures = 0;
  let timer = null;
  let inFlight = false;
  let again = false;  // asked for while a call was in flight: run once more when it ends (its data may predate the ask)
  let stopped = false;

  function delay() {
    const base = period();
    return failures === 0 ? base : Math.min(Math.max(backoffMax, base), base * 2 ** failures);
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (stopped || document.hidden) return;  // hidden: nothing scheduled; visibilitychange runs it at once
    timer = setTimeout(run, delay());
  }

  async function run() {
    if (stopped) return;
    if (inFlight) { again = true; return; }
    clearTimeout(timer);
    inFlight = true;
    let ok = false;
    try {
      ok = (await fn()) !== false;  // a poll function answers false (or throws) when its call failed
    } catch (e) {
      console.warn("poll failed", e);
    } finally {
      inFlight = false;
    }
    failures = ok ? 0 : failures + 1;
    if (again) { again = false; run(); return; }
    schedule();
  }

  function onVisibility() {
    if (document.hidden) { clearTimeout(timer); timer = null; } else if (!inFlight) { run(); }
  }
  document.addEventListener("visibilitychange", onVisibility);

  if (immediate) run(); else schedule();
  return {
    now: run,
    stop() { stopped = true; clearTimeout(timer); document.removeEventListener("visibilitychange", onVisibility); },
    failures: () => failures,
    delay,
  };
};
