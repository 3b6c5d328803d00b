// The wallboard's live view: applies the floor feed (/floor/events, Server-Sent Events)
// to the page. Times that grow (waits, time in state) are computed here from the
// server's timestamps, corrected for the difference between the two clocks, so the feed
// itself only carries changes.
"use strict";

(function () {
  const floor = { queues: [], agents: new Map(), window: null, todaySince: null };
  // What the browser test reads: events applied, snapshots among them, the last id.
  const seen = { events: 0, snapshots: 0, lastId: "" };
  let skew = 0; // server clock minus browser clock, milliseconds
  let source = null;

  const $ = (id) => document.getElementById(id);
  const now = () => Date.now() + skew;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clock(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "\u2013";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  }

  // A standard's time, short: "20s", "2m", "1m30s".
  function short(seconds) {
    const s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    return s % 60 === 0 ? `${s / 60}m` : `${Math.floor(s / 60)}m${s % 60}s`;
  }

  const since = (ms) => (ms === null ? null : (now() - ms) / 1000);
  const percent = (x) => (x === null || x === undefined ? "\u2013" : `${Math.round(x * 100)}%`);
  const words = (s) => s.replace(/_/g, " ");

  function verdict(v, level) {
    const text = { met: "\u2713 MET", missed: "\u2717 MISSED", no_calls: "no calls" }[v] || v;
    const shown = v === "no_calls" ? text : `${percent(level)} ${text}`;
    return el("span", { class: `verdict ${v}`, "data-verdict": v }, shown);
  }

  function queueCard(q) {
    const missed = q.tiers.some((t) => t.window_verdict === "missed");
    const card = el("article", {
      class: `queue${q.closed ? " closed" : ""}${missed ? " missed" : ""}`,
      "data-queue": q.queue,
    });
    const title = el("h2", {}, q.queue);
    if (q.closed) {
      title.append(el("span", { class: "badge closed", "data-field": "closed" },
        q.closed_reason ? `CLOSED: ${q.closed_reason}` : "CLOSED"));
    }
    card.append(title);
    const oldest = since(q.oldest_arrived);
    const late = q.tiers.length > 0 && oldest !== null &&
      oldest > Math.min(...q.tiers.map((t) => t.standard_within));
    card.append(el("div", { class: "big" },
      el("div", {}, el("span", { class: "value", "data-field": "waiting" }, q.waiting),
        el("span", { class: "label" }, "waiting")),
      el("div", {}, el("span", { class: `value${late ? " alert" : ""}`, "data-field": "oldest" },
        clock(oldest)), el("span", { class: "label" }, "oldest wait")),
      el("div", {}, el("span", { class: "value", "data-field": "available" }, q.agents.available),
        el("span", { class: "label" }, "available"))));
    card.append(el("div", { class: "agents-line" },
      el("span", {}, el("b", { "data-field": "reserved" }, q.agents.reserved), " ringing"),
      el("span", {}, el("b", { "data-field": "on_call" }, q.agents.on_call), " on call"),
      el("span", {}, el("b", { "data-field": "wrap_up" }, q.agents.wrap_up), " wrap-up"),
      el("span", {}, el("b", { "data-field": "not_ready" }, q.agents.not_ready), " not ready")));
    const reasons = Object.entries(q.not_ready_reasons || {});
    if (reasons.length > 0) {
      card.append(el("p", { class: "reasons" }, "Not ready: " +
        reasons.map(([r, n]) => `${n} ${r || "no reason"}`).join(", ")));
    }
    const rows = q.tiers.map((t) => el("tr", { "data-tier": t.tier },
      el("td", {}, t.tier),
      el("td", {}, `${t.standard_percent}% \u2264 ${short(t.standard_within)}`),
      el("td", { "data-field": "window" }, verdict(t.window_verdict, t.window_level)),
      el("td", { "data-field": "today" }, verdict(t.today_verdict, t.today_level)),
      el("td", { class: "num" }, t.waiting)));
    card.append(el("table", { class: "tiers" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Tier"),
        el("th", { scope: "col" }, "Standard"), el("th", { scope: "col" }, "Window"),
        el("th", { scope: "col" }, "Today"), el("th", { scope: "col", class: "num" }, "Wait"))),
      el("tbody", {}, ...rows)));
    card.append(el("div", { class: "figures" },
      el("span", {}, "Offered ", el("b", { "data-field": "offered" }, q.offered)),
      el("span", {}, "Answered ", el("b", { "data-field": "answered" }, q.answered)),
      el("span", {}, "Abandoned ", el("b", { "data-field": "abandoned" }, q.abandoned),
        ` (${percent(q.abandon_rate)})`),
      el("span", {}, "ASA ", el("b", { "data-field": "asa" }, clock(q.average_speed_of_answer))),
      el("span", {}, "Est. wait ", el("b", { "data-field": "estimated" },
        q.estimated_wait === null ? "nobody staffed" : clock(q.estimated_wait)))));
    return card;
  }

  function agentRow(a) {
    // Chats, emails and posts held, as "chat 2/3" (lanes holding nothing are left out).
    const lanes = (a.lanes || []).filter((l) => l.held > 0)
      .map((l) => `${l.lane} ${l.held}/${l.capacity}`);
    const call = [a.call_id ? `${a.call_id} (${a.call_queue})` : "", ...lanes]
      .filter((part) => part).join(" \u00B7 ");
    return el("tr", { "data-agent": a.agent_id },
      el("td", {}, a.agent_id),
      el("td", {}, el("span", { class: `state ${a.state}`, "data-field": "state" },
        words(a.state) + (a.reason ? `: ${a.reason}` : ""))),
      el("td", { class: "num", "data-field": "for" }, clock(since(a.state_since))),
      el("td", { "data-field": "call" }, call),
      el("td", { class: "num", "data-field": "answered" }, a.answered_today),
      el("td", { class: "num", "data-field": "missed" }, a.missed_today),
      el("td", {}, a.coaching ? el("span", { class: "coaching" }, "\u25B2 coaching") : ""));
  }

  function render() {
    const queues = $("queues");
    queues.replaceChildren(...floor.queues.map(queueCard));
    const agents = [...floor.agents.values()].sort((a, b) => a.agent_id.localeCompare(b.agent_id));
    $("agents").tBodies[0].replaceChildren(...agents.map(agentRow));
    $("agents-empty").hidden = agents.length > 0;
    const calls = floor.queues.flatMap((q) => q.calls.map((c) => el("tr", { "data-call": c.call_id },
      el("td", {}, q.queue), el("td", { class: "num" }, c.position),
      el("td", {}, c.call_id + (c.channel !== "voice" && c.channel !== "callback" ? ` (${c.channel})` : "") +
        (c.callback ? " (callback)" : "") +
        (c.kept_for_agent ? ` (for ${c.kept_for_agent})` : "")),
      el("td", {}, c.tier), el("td", { class: "num" }, clock(since(c.arrived))),
      el("td", { class: "num" }, c.priority))));
    $("calls").tBodies[0].replaceChildren(...calls);
    $("calls-empty").hidden = calls.length > 0;
    if (floor.window !== null) {
      const today = new Date(floor.todaySince);
      $("period").textContent = `Window: last ${clock(floor.window)} \u00B7 Today: since ` +
        today.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
    }
    $("clock").textContent = new Date(now()).toLocaleTimeString([], { hour12: false });
  }

  function apply(kind, data, id) {
    skew = data.at - Date.now();
    seen.events += 1;
    seen.lastId = id || seen.lastId;
    if (kind === "snapshot") {
      seen.snapshots += 1;
      floor.queues = data.queues;
      floor.agents = new Map(data.agents.map((a) => [a.agent_id, a]));
      floor.window = data.window;
      floor.todaySince = data.today_since;
    } else if (kind === "queue") {
      const i = floor.queues.findIndex((q) => q.queue === data.queue.queue);
      if (i >= 0) floor.queues[i] = data.queue; else floor.queues.push(data.queue);
    } else if (kind === "queue_gone") {
      floor.queues = floor.queues.filter((q) => q.queue !== data.queue);
    } else if (kind === "agent") {
      floor.agents.set(data.agent.agent_id, data.agent);
    } else if (kind === "agent_gone") {
      floor.agents.delete(data.agent_id);
    }
    render();
  }

  function live(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.dataset.lastEventId = seen.lastId;
    status.textContent = text;
  }

  // Opens the feed; after `lastId` when given (a reconnect this page makes itself; the
  // browser's own reconnects send Last-Event-ID by themselves).
  function connect(lastId) {
    if (source) source.close();
    const url = lastId ? `/floor/events?last_event_id=${encodeURIComponent(lastId)}` : "/floor/events";
    source = new EventSource(url);
    source.onopen = () => live("live", "Live");
    source.onerror = () => live("lost", "Reconnecting\u2026");
    for (const kind of ["snapshot", "queue", "queue_gone", "agent", "agent_gone"]) {
      source.addEventListener(kind, (e) => {
        apply(kind, JSON.parse(e.data), e.lastEventId);
        live("live", "Live");
      });
    }
  }

  window.wallboard = {
    seen,
    // Drops the connection and resumes after the last event applied.
    reconnect: () => connect(seen.lastId),
  };
  connect("");
  setInterval(render, 1000);
})();
