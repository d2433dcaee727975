#include "devtools_page.hpp"

namespace multistore {

// One document, no external resource: the machine it is opened on may be offline.
const char* const devtools_page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>multistore devtools</title>
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
  header { background: #1d2330; color: #fff; padding: 8px 16px; display: flex; gap: 16px;
           align-items: center; }
  header h1 { font-size: 15px; margin: 0; }
  #summary { opacity: .8; }
  main { display: grid; grid-template-columns: minmax(420px, 1fr) minmax(420px, 1fr); gap: 12px;
         padding: 12px; }
  section { background: #fff; border: 1px solid #d8dce3; border-radius: 4px; padding: 8px;
            overflow: auto; max-height: calc(100vh - 80px); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceef2;
           white-space: nowrap; }
  th { font-weight: 600; background: #f0f2f5; position: sticky; top: 0; }
  tr.store { cursor: pointer; }
  tr.store:hover { background: #eef4ff; }
  tr.selected { background: #dce8ff; }
  .phase { border-radius: 3px; padding: 0 5px; font-size: 12px; }
  .active { background: #d6f5dd; } .inactive { background: #fff1c9; }
  .loading { background: #dbe9ff; } .disposed { background: #eee; }
  td.args { white-space: normal; font-family: ui-monospace, monospace; font-size: 12px; }
  input { padding: 3px 6px; width: 220px; }
  button { margin: 0 2px; }
  h2 { font-size: 14px; margin: 4px 0 8px; } h3 { font-size: 13px; margin: 12px 0 4px; }
  .muted { color: #7a8190; } .error { color: #b00020; }
</style>
</head>
<body>
<header><h1>multistore devtools</h1><span id="summary">connecting…</span>
  <input id="filter" placeholder="filter store ids" autocomplete="off"></header>
<main>
<section>
  <table>
    <thead><tr><th>store</th><th>phase</th><th>observers</th><th>gc_time</th><th>GC in</th>
      <th>loads</th><th>head</th><th>pending</th><th>subs</th></tr></thead>
    <tbody id="stores"></tbody>
  </table>
</section>
<section id="detail"><p class="muted">Select a store to see its events and tables.</p></section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
let selected = decodeURIComponent((location.hash.match(/store=([^&]*)/) || [])[1] || "");
let eventsBefore = null;           // null: the newest page
let tableView = null;              // {name, offset}
let shownKey = null, shownLog = [];  // what the detail's log and tables show
const pageSize = 50;

async function api(path) {
  const res = await fetch(path, { headers, cache: "no-store" });
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e[k] = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k ?? ""));
  return e;
}
function ms(v) {
  if (v === null || v === undefined) return "never";
  return v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + " s" : v + " ms";
}
function phase(p) { return el("span", { class: "phase " + p }, p); }

async function refreshStores() {
  let data;
  try { data = await api("api/stores"); }
  catch (e) { document.getElementById("summary").textContent = "error: " + e.message; return; }
  const filter = document.getElementById("filter").value.trim();
  const rows = data.stores.filter(s => !filter || s.id.includes(filter));
  const counts = {};
  for (const s of data.stores) counts[s.phase] = (counts[s.phase] || 0) + 1;
  document.getElementById("summary").textContent = data.stores.length + " stores · " +
    Object.entries(counts).map(([p, n]) => n + " " + p).join(" · ") +
    " · " + new Date().toLocaleTimeString();
  const body = document.getElementById("stores");
  body.replaceChildren(...rows.map(s => {
    const tr = el("tr", { class: "store" + (s.id === selected ? " selected" : ""), "data-id": s.id,
                          onclick: () => select(s.id) },
      el("td", {}, s.id), el("td", {}, phase(s.phase)));
    if (s.devtools === false) {
      tr.append(el("td", { colspan: 7, class: "muted" }, "devtools disabled"));
    } else {
      tr.append(el("td", {}, String(s.observers)), el("td", {}, ms(s.gc_time_ms)),
        el("td", {}, s.gc_remaining_ms === null ? "" : ms(s.gc_remaining_ms)),
        el("td", {}, String(s.loads)), el("td", {}, s.head ?? ""),
        el("td", {}, s.pending_commits ?? ""), el("td", {}, s.subscriptions ?? ""));
    }
    return tr;
  }));
}

function select(id) {
  selected = id; eventsBefore = null; tableView = null;
  location.hash = "store=" + encodeURIComponent(id);
  refreshDetail(); refreshStores();
}

async function refreshDetail() {
  const box = document.getElementById("detail");
  if (!selected) return;
  const id = encodeURIComponent(selected);
  let store;
  try { store = await api("api/stores/" + id); }
  catch (e) { box.replaceChildren(el("h2", {}, selected), el("p", { class: "error" }, e.message)); return; }
  const parts = [el("h2", {}, store.id + " ", phase(store.phase))];
  if (store.devtools === false) {
    parts.push(el("p", { class: "muted" }, "This store has disable_devtools set."));
    box.replaceChildren(...parts); return;
  }
  if (!store.tables) {  // still loading: the row is all there is
    parts.push(el("p", { class: "muted" }, "The store is " + store.phase + "."));
    box.replaceChildren(...parts); return;
  }
  parts.push(el("p", { class: "muted" }, "schema " + store.schema + " · head " + store.head +
    " · " + store.pending_commits + " pending commits · " + store.observers + " observers"));
  // The log and the tables change only with the head: while it stands still,
  // the store is not asked again.
  const key = JSON.stringify([store.id, store.head, eventsBefore, tableView]);
  if (key === shownKey) {
    box.replaceChildren(...parts, ...shownLog, subscriptions(store)); return;
  }
  const log = [];
  try {
    const q = "?limit=" + pageSize + (eventsBefore ? "&before=" + eventsBefore : "");
    const ev = await api("api/stores/" + id + "/events" + q);
    const last = ev.events.length ? ev.events[ev.events.length - 1].seq : null;
    log.push(el("h3", {}, "Events (newest first)"),
      el("div", {}, el("button", { onclick: () => { eventsBefore = null; refreshDetail(); } }, "newest"),
        el("button", { onclick: () => { if (last > 1) { eventsBefore = last; refreshDetail(); } } }, "older")),
      el("table", { id: "events" },
        el("thead", {}, el("tr", {}, ...["seq", "name", "time", "client", "session", "args"].map(h => el("th", {}, h)))),
        el("tbody", {}, ...ev.events.map(e => el("tr", { class: "event" },
          el("td", {}, String(e.seq)), el("td", { class: "name" }, e.name),
          el("td", {}, new Date(e.time_ms).toLocaleTimeString()), el("td", {}, e.client_id),
          el("td", {}, e.session_id), el("td", { class: "args" }, JSON.stringify(e.args)))))));
    const tables = await api("api/stores/" + id + "/tables");
    log.push(el("h3", {}, "State tables"),
      el("div", {}, ...tables.tables.map(t =>
        el("button", { onclick: () => { tableView = { name: t.name, offset: 0 }; refreshDetail(); } },
           t.name + " (" + t.rows + ")"))));
    if (tableView) {
      const t = await api("api/stores/" + id + "/tables/" + encodeURIComponent(tableView.name) +
                          "?limit=" + pageSize + "&offset=" + tableView.offset);
      const cols = t.rows.length ? Object.keys(t.rows[0]) : [];
      log.push(el("p", {}, t.table + ": rows " + (t.offset + 1) + "–" + (t.offset + t.rows.length) +
          " of " + t.total + " ",
        el("button", { onclick: () => { tableView.offset = Math.max(0, tableView.offset - pageSize); refreshDetail(); } }, "previous"),
        el("button", { onclick: () => { if (tableView.offset + pageSize < t.total) { tableView.offset += pageSize; refreshDetail(); } } }, "next")),
        el("table", { id: "rows" }, el("thead", {}, el("tr", {}, ...cols.map(c => el("th", {}, c)))),
          el("tbody", {}, ...t.rows.map(r => el("tr", {}, ...cols.map(c =>
            el("td", { class: "args" }, typeof r[c] === "object" ? JSON.stringify(r[c]) : String(r[c]))))))));
    }
    shownKey = key; shownLog = log;
  } catch (e) { log.push(el("p", { class: "error" }, e.message)); shownKey = null; }
  box.replaceChildren(...parts, ...log, subscriptions(store));
}

function subscriptions(store) {
  return el("div", {}, el("h3", {}, "Subscriptions"), store.subscription_queries.length
    ? el("ul", {}, ...store.subscription_queries.map(s => el("li", {}, "#" + s.id + " " + s.sql)))
    : el("p", { class: "muted" }, "none"));
}

document.getElementById("filter").oninput = refreshStores;
refreshStores(); refreshDetail();
setInterval(() => { refreshStores(); if (eventsBefore === null) refreshDetail(); }, 1000);
</script>
</body>
</html>
)HTML";

}  // namespace multistore
