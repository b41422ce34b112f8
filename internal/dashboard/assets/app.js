// Paddock's status page: follows api/events (server-sent events) and
// renders each reading. No framework, no build step: this file is embedded
// in the binary as it is. Data is only ever put in the page as text
// (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

// el builds an element with text or child nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "title") e.title = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// age renders seconds as a short duration: "4 s", "12 min", "3 h 5 min".
function age(s) {
  if (s === null || s === undefined || !isFinite(s)) return "—";
  s = Math.max(0, s);
  if (s < 1) return "<1 s";
  if (s < 60) return Math.floor(s) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min";
  const h = Math.floor(m / 60);
  if (h < 48) return h + " h " + (m % 60) + " min";
  return Math.floor(h / 24) + " d";
}

// since is how long before the reading t was, by the server's clock (the
// viewer's clock may be wrong).
function since(t, st) {
  if (!t || t.startsWith("0001-")) return null;
  return (Date.parse(st.at) - Date.parse(t)) / 1000;
}

function num(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "—";
}

function rate(r) {
  if (r === 0) return "0";
  if (r >= 100) return Math.round(r).toLocaleString("en-US");
  if (r >= 10) return r.toFixed(1);
  return r.toFixed(2);
}

function clock(t) {
  const d = new Date(t);
  return isNaN(d) ? "?" : d.toLocaleTimeString([], { hour12: false });
}

// fill replaces a table's rows; an empty table is hidden (its "empty"
// note says why).
function fill(table, rows) {
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
}

function render(st) {
  $("root").textContent = st.root;
  document.title = (st.leader ? st.leader.id : "no leader") + " · Paddock " + st.root;

  // Masters.
  const leader = st.leader;
  $("leader").dataset.leader = leader ? leader.id : "";
  $("leader-name").textContent = leader ? leader.id : "none";
  $("leader-name").classList.toggle("missing", !leader);
  $("taking-over").hidden = !st.taking_over;
  $("leader-detail").textContent = leader
    ? leader.host + " · pid " + leader.pid + " · up " + age(since(leader.started, st))
    : "no master is running";
  $("epoch").textContent = num(st.epoch.epoch);
  $("epoch-detail").textContent = st.taking_over
    ? (st.epoch.leader ? "was " + st.epoch.leader + "'s" : "first leader")
    : (st.epoch.since ? "for " + age(since(st.epoch.since, st)) : "");
  $("backups").replaceChildren(...(st.backups.length
    ? st.backups.map((b) => el("li", { "data-backup": b.id, title: b.host + " · pid " + b.pid }, b.id))
    : [el("li", { class: "none" }, "none")]));

  // Several leaders (master.leaders): who leads which partitions.
  const parts = {};
  for (const p of st.partitions || []) {
    (parts[p.leader] = parts[p.leader] || []).push(p.partition);
  }
  const leaders = Object.keys(parts).sort();
  $("partitions-box").hidden = leaders.length < 2;
  $("partitions").replaceChildren(...leaders.map((l) =>
    el("li", { "data-partitions": l }, l + " · " + parts[l].join(","))));

  // Counts.
  $("count-pending").textContent = num(st.pending);
  const waiting = Object.entries(st.waiting_for_kind || {}).sort();
  const notes = waiting.map(([k, n]) => num(n) + " wait for a " + k + " worker");
  if (st.scheduled) {
    notes.push(num(st.scheduled) + " scheduled for later");
  }
  $("pending-note").textContent = notes.length ? notes.join(" · ") : "waiting for a worker";
  $("pending-note").classList.toggle("bad", waiting.length > 0);
  $("count-running").textContent = num(st.running);
  $("count-finished").textContent = num(st.finished);
  $("count-dead").textContent = num(st.dead);
  $("count-dead").classList.toggle("bad", st.dead > 0);
  const oldest = st.oldest_pending_seconds;
  $("oldest-pending").textContent = oldest === undefined || oldest === null ? "—" : (st.pending ? age(oldest) : "none");
  $("oldest-pending-note").textContent = oldest === undefined || oldest === null
    ? "known to the leading master" : "waiting the longest";
  const tp = st.throughput;
  if (tp) {
    $("throughput").textContent = rate(tp.ended_per_second) + " /s";
    $("throughput-detail").textContent = "ended · " + rate(tp.submitted_per_second) +
      " /s submitted · over " + age(tp.window_seconds);
  } else {
    $("throughput").textContent = "—";
    $("throughput-detail").textContent = "after two readings";
  }

  // Workers.
  $("workers-count").textContent = st.workers.length ? "(" + st.workers.length + ")" : "";
  $("workers-empty").hidden = st.workers.length > 0;
  fill($("workers"), st.workers.map((w) => {
    if (!w.valid) {
      return el("tr", { "data-worker": w.name }, el("td", { class: "name" }, w.name),
        el("td", { colspan: 6, class: "muted" }, "unreadable registration"));
    }
    const pct = w.concurrency ? Math.min(100, (100 * w.running) / w.concurrency) : 0;
    const bar = el("div", { class: "bar" + (w.running >= w.concurrency ? " full" : "") }, el("div", { class: "fill" }));
    bar.firstChild.style.width = pct + "%";
    return el("tr", { "data-worker": w.name },
      el("td", { class: "name" }, w.name),
      el("td", { class: "load" }, el("div", { class: "loadcell" }, bar, el("span", { class: "num" }, w.running + " / " + w.concurrency))),
      el("td", { class: "kinds" }, (w.kinds || []).join(", ") || "any"),
      el("td", {}, w.draining ? el("span", { class: "badge warn" }, "draining") : el("span", { class: "badge ok" }, "ready")),
      el("td", {}, w.host),
      el("td", { class: "num" }, w.pid),
      el("td", {}, age(since(w.started, st))));
  }));

  // Dead letters.
  $("dead-count").textContent = st.dead ? "(newest " + st.recent_dead.length + " of " + num(st.dead) + ")" : "";
  $("dead-empty").hidden = st.recent_dead.length > 0;
  fill($("dead"), st.recent_dead.map((d) => el("tr", { "data-dead": d.id },
    el("td", { class: "mono" }, d.id),
    el("td", {}, el("span", { class: "badge bad" }, d.reason)),
    el("td", { class: "detail", title: d.detail }, d.detail || "—"),
    el("td", { class: "num" }, d.attempts),
    el("td", { class: "when", title: d.at || "" }, d.at ? age(since(d.at, st)) + " ago" : "—"))));

  // Roles.
  $("roles-count").textContent = st.roles.length ? "(" + st.roles.length + ")" : "";
  $("roles-empty").hidden = st.roles.length > 0;
  fill($("roles"), st.roles.map((r) => el("tr", { "data-role": r.name },
    el("td", { class: "name", title: r.data ? "runs " + r.data : "held without a command" }, r.name),
    el("td", {}, r.holder ? r.holder : el("span", { class: "badge warn" }, "open")),
    el("td", {}, r.holder ? age(since(r.since, st)) : "—"))));
  $("applicants").replaceChildren(...(st.applicants.length
    ? st.applicants.map((a) => el("li", { "data-applicant": a.id, title: a.host + " · pid " + a.pid }, a.id))
    : [el("li", { class: "none" }, "none")]));

  $("updated").textContent = "read at " + clock(st.at);
}

// setConn shows how the page stands with its server and ZooKeeper.
function setConn(state, text, detail) {
  $("conn").dataset.state = state;
  $("conn-text").textContent = text;
  const bad = state !== "live" && state !== "connecting";
  $("main").dataset.stale = String(bad);
  $("banner").hidden = !bad;
  if (bad) {
    $("banner-title").textContent = text + ".";
    $("banner-detail").textContent = detail;
  }
}

let lastGood = null;
let source = null;
let retryTimer = null;

function connect() {
  if (source || document.hidden) return;
  source = new EventSource("api/events");
  source.addEventListener("status", (e) => {
    const st = JSON.parse(e.data);
    lastGood = st.at;
    render(st);
    setConn("live", "live");
  });
  source.addEventListener("unreachable", (e) => {
    const f = JSON.parse(e.data);
    setConn("unreachable", "Cannot reach ZooKeeper",
      f.error.replace(/^cannot reach ZooKeeper:\s*/i, "") + (lastGood ? " — showing the reading of " + clock(lastGood) + "; " : " — ") + "retrying every second.");
  });
  source.onerror = () => {
    // The browser reconnects by itself unless the server answered with an
    // error; then the stream is closed and we try again ourselves.
    setConn("lost", "Lost the status server", "the process serving this page does not answer; reconnecting.");
    if (source.readyState === EventSource.CLOSED) {
      source = null;
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, 2000);
    }
  };
}

function disconnect() {
  clearTimeout(retryTimer);
  if (source) {
    source.close();
    source = null;
  }
}

// A hidden tab stops following, so that nobody's forgotten tab makes the
// server read ZooKeeper every second.
document.addEventListener("visibilitychange", () => (document.hidden ? disconnect() : connect()));
connect();
