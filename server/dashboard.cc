#include "server/dashboard.h"

namespace relayq::server {
namespace {

// Every value from the API is inserted as text (textContent), never as
// HTML: repository names, job names and reasons come from webhook payloads.
constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>relayq</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1d232b; --dim:#66707c; --line:#e3e6ea;
          --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --accent:#0969da; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
         background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:baseline; gap:16px; padding:14px 24px;
           background:#1d232b; color:#fff; }
  header h1 { margin:0; font-size:18px; }
  header .meta { color:#b8c0ca; font-size:12px; }
  #error { display:none; margin:16px 24px 0; padding:10px 14px; border-radius:6px;
           background:#ffebe9; color:var(--bad); border:1px solid #ffcecb; }
  main { display:grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
         gap:16px; padding:16px 24px 24px; }
  section { background:var(--card); border:1px solid var(--line); border-radius:8px;
            padding:12px 16px; overflow:auto; }
  section.wide { grid-column: 1 / -1; }
  h2 { margin:0 0 8px; font-size:14px; text-transform:uppercase; letter-spacing:.04em;
       color:var(--dim); }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line);
           white-space:nowrap; }
  th { font-weight:600; color:var(--dim); font-size:12px; }
  td.num { text-align:right; font-variant-numeric: tabular-nums; }
  td.wrap { white-space:normal; }
  .empty { color:var(--dim); font-style:italic; }
  .s-success,.s-done { color:var(--ok); } .s-failure,.s-failed,.s-undecodable { color:var(--bad); }
  .s-queued,.s-pending,.s-scheduled,.s-in_progress,.s-running { color:var(--warn); }
  .tiles { display:flex; flex-wrap:wrap; gap:12px; }
  .tile { min-width:120px; padding:8px 12px; border:1px solid var(--line); border-radius:6px; }
  .tile .n { font-size:24px; font-weight:600; }
  .tile .l { color:var(--dim); font-size:12px; }
  tr.hl-failed td { background:#ffebe9; } tr.hl-refused td { background:#fff8c5; }
  .s-refused,.s-aborted { color:var(--bad); }
  a { color:var(--accent); }
  #wait-chart svg { width:100%; height:auto; font-size:11px; }
  #wait-chart .axis { stroke:var(--line); }
  #wait-chart .p95 { stroke-dasharray:4 3; }
</style>
</head>
<body>
<header><h1>relayq</h1><span class="meta" id="meta">loading&hellip;</span></header>
<div id="error"></div>
<main>
  <section class="wide"><h2>Queued now, per label</h2><div id="queues"></div></section>
  <section><h2>Runners seen in the last 24 h</h2><div id="runners"></div></section>
  <section><h2>Queue wait, last 24 h</h2><div id="waits"></div></section>
  <section class="wide"><h2>Queue wait per label per day, last 30 days (p50 solid, p95 dashed)</h2><div id="wait-chart"></div></section>
  <section class="wide"><h2>Recent jobs</h2><div id="jobs"></div></section>
  <section class="wide"><h2>Recent routing actions</h2><div id="actions"></div></section>
  <section class="wide"><h2>Deliveries that failed to decode</h2><div id="undecodable"></div></section>
</main>
<script>
"use strict";
(function () {
  var params = new URLSearchParams(location.search);
  if (params.has("token")) {
    sessionStorage.setItem("relayq-token", params.get("token"));
    history.replaceState(null, "", location.pathname);
  }
  var token = sessionStorage.getItem("relayq-token") || "";

  function api(path) {
    return fetch(path, { headers: { "Authorization": "Bearer " + token }, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { return r.json().then(function (j) { throw new Error(path + ": " + r.status + " " + (j.error || "")); }); }
        return r.json();
      });
  }
  function dur(s) {
    if (s === null || s === undefined) return "\u2013";
    s = Math.max(0, Math.round(s));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60), x = s % 60;
    if (d) return d + "d" + (h ? h + "h" : "");
    if (h) return h + "h" + (m ? m + "m" : "");
    if (m) return m + "m" + (x ? x + "s" : "");
    return x + "s";
  }
  function when(t) { return t ? t.replace("T", " ").replace("Z", "") : "\u2013"; }
  function text(v) { return v === null || v === undefined || v === "" ? "\u2013" : String(v); }
  // cells: [value, className, dataAttr] ; every value is set as text.
  function table(el, heads, rows, emptyText) {
    el.textContent = "";
    if (!rows.length) {
      var p = document.createElement("div"); p.className = "empty"; p.textContent = emptyText;
      el.appendChild(p); return;
    }
    var t = document.createElement("table"), tr = document.createElement("tr");
    heads.forEach(function (h) { var th = document.createElement("th"); th.textContent = h; tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach(function (row) {
      var r = document.createElement("tr");
      if (row.cls) r.className = row.cls;
      row.forEach(function (c) {
        var td = document.createElement("td");
        if (Array.isArray(c) && c[3]) {
          // A link: only http(s) URLs become one (a stored URL is data).
          var a = document.createElement("a"); a.textContent = text(c[0]);
          if (/^https?:\/\//.test(c[3])) { a.href = c[3]; a.rel = "noreferrer"; }
          td.appendChild(a);
          if (c[1]) td.className = c[1];
        } else if (Array.isArray(c)) {
          td.textContent = text(c[0]);
          if (c[1]) td.className = c[1];
          if (c[2]) td.setAttribute(c[2][0], c[2][1]);
        } else { td.textContent = text(c); }
        r.appendChild(td);
      });
      t.appendChild(r);
    });
    el.appendChild(t);
  }
  function status(item) { return item.conclusion || item.status; }
  function labels(l) { return (l || []).filter(function (x) { return x !== "self-hosted"; }).join(", "); }

  var SVG = "http://www.w3.org/2000/svg";
  function svg(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }
  // Wait p50 (solid) and p95 (dashed) per label per day, one path each, as
  // inline SVG drawn here: no library, nothing fetched but the API.
  function chart(el, items, nowText) {
    el.textContent = "";
    var day = 86400000, end = Date.parse(nowText), start = end - 30 * day;
    var byLabel = {}, top = 1;
    items.forEach(function (w) {
      // self-hosted is on every job: it says nothing; a label without a
      // known wait (its jobs never started) has nothing to draw.
      if (w.label === "self-hosted" || w.p50_seconds === null) return;
      (byLabel[w.label] = byLabel[w.label] || []).push(w);
      top = Math.max(top, w.p95_seconds);
    });
    if (!Object.keys(byLabel).length) { table(el, [], [], "No job started in the last 30 days."); return; }
    var W = 900, H = 260, L = 56, R = 130, T = 10, B = 28;
    var x = function (t) { return L + (W - L - R) * Math.min(1, Math.max(0, (t - start) / (end - start))); };
    var y = function (s) { return T + (H - T - B) * (1 - s / top); };
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img",
                            "aria-label": "queue wait per label per day" }, el);
    svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), "class": "axis" }, root);
    svg("line", { x1: L, y1: T, x2: L, y2: y(0), "class": "axis" }, root);
    var ylab = svg("text", { x: L - 6, y: T + 10, "text-anchor": "end" }, root); ylab.textContent = dur(top);
    var y0 = svg("text", { x: L - 6, y: y(0), "text-anchor": "end" }, root); y0.textContent = "0s";
    [start, end].forEach(function (t, i) {
      var tx = svg("text", { x: x(t), y: H - 8, "text-anchor": i ? "end" : "start" }, root);
      tx.textContent = new Date(t).toISOString().slice(0, 10);
    });
    var colors = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bc4c00", "#1b7c83", "#57606a"];
    Object.keys(byLabel).sort().forEach(function (label, i) {
      var color = colors[i % colors.length];
      var points = byLabel[label].sort(function (a, b) { return Date.parse(a.period_start) - Date.parse(b.period_start); });
      ["p50", "p95"].forEach(function (p) {
        var d = points.map(function (w, k) {
          var cx = x(Date.parse(w.period_start) + day / 2), cy = y(w[p + "_seconds"]);
          return (k ? "L" : "M") + cx.toFixed(1) + "," + cy.toFixed(1);
        }).join(" ");
        var path = svg("path", { d: d || "M0,0", fill: "none", stroke: color, "stroke-width": 2,
                                 "class": "wait-" + p + (p === "p95" ? " p95" : "") }, root);
        path.setAttribute("data-label", label);
        points.forEach(function (w) {
          var dot = svg("circle", { cx: x(Date.parse(w.period_start) + day / 2).toFixed(1),
                                    cy: y(w[p + "_seconds"]).toFixed(1), r: p === "p50" ? 3 : 2,
                                    fill: color }, root);
          var tip = svg("title", {}, dot);
          tip.textContent = label + " " + w.period_start.slice(0, 10) + " " + p + " " + dur(w[p + "_seconds"]) +
            " (" + w.waited + " jobs, " + w.fallbacks + " fallbacks)";
        });
      });
      var key = svg("text", { x: W - R + 8, y: T + 12 + i * 16, fill: color }, root);
      key.textContent = label;
    });
  }

  function render(sum, jobs, actions, bad, waits) {
    document.getElementById("meta").textContent =
      "version " + sum.version + " \u00b7 updated " + when(sum.now) + " UTC \u00b7 actions pending " +
      sum.actions.pending + ", scheduled " + sum.actions.scheduled;
    var q = document.getElementById("queues");
    q.textContent = "";
    if (!sum.queued_by_label.length) {
      table(q, [], [], "Nothing is queued.");
    } else {
      var tiles = document.createElement("div"); tiles.className = "tiles";
      sum.queued_by_label.forEach(function (l) {
        var d = document.createElement("div"); d.className = "tile";
        d.setAttribute("data-queue-label", l.label);
        var n = document.createElement("div"); n.className = "n"; n.textContent = l.queued;
        n.setAttribute("data-queued", l.queued);
        var lab = document.createElement("div"); lab.className = "l";
        lab.textContent = l.label + " \u00b7 oldest waiting " + dur(l.oldest_wait_seconds);
        d.appendChild(n); d.appendChild(lab); tiles.appendChild(d);
      });
      q.appendChild(tiles);
    }
    table(document.getElementById("runners"),
      ["Runner", "Last seen (UTC)", "Jobs", "Busy", "Last job", "Status"],
      sum.runners.map(function (r) {
        return [[r.runner_name, "", ["data-runner", r.runner_name]], when(r.last_seen),
                [r.jobs, "num"], [r.busy, "num"],
                [r.last_repository + " \u00b7 " + r.last_workflow + " / " + r.last_job, "wrap"],
                [r.last_status, "s-" + r.last_status]];
      }), "No runner took a job in the last 24 hours.");
    table(document.getElementById("waits"), ["Label", "Jobs", "p50", "p95", "Max"],
      sum.wait_by_label_24h.map(function (w) {
        return [w.label, [w.jobs, "num"], [dur(w.p50_seconds), "num"], [dur(w.p95_seconds), "num"],
                [dur(w.max_seconds), "num"]];
      }), "No job started in the last 24 hours.");
    table(document.getElementById("jobs"),
      ["Job", "Repository", "Workflow / job", "Labels", "Status", "Runner", "Queued (UTC)", "Wait", "Run time"],
      jobs.items.map(function (j) {
        return [[j.id, "", ["data-job", String(j.id)]], j.repository, j.workflow_name + " / " + j.name,
                labels(j.labels), [status(j), "s-" + status(j)], j.runner_name, when(j.queued_at),
                [dur(j.wait_seconds), "num"], [dur(j.duration_seconds), "num"]];
      }), "No jobs recorded yet.");
    chart(document.getElementById("wait-chart"), waits.items, sum.now);
    table(document.getElementById("actions"),
      ["#", "Kind", "Status", "Tries", "Repository", "Created (UTC)", "Done (UTC)", "Why", "Last error", "Result"],
      actions.items.map(function (a) {
        var result = a.result_run_url ? [(a.target_workflow || "run") + " #" + text(a.result_run_id), "", null, a.result_run_url]
                   : (a.result_run_id ? [a.result_run_id, "num"] : "");
        var row = [[a.id, "", ["data-action", String(a.id)]], a.kind,
                   [a.status, "s-" + a.status, ["data-action-status", a.status]], [a.attempts, "num"],
                   a.repository, when(a.created_at), when(a.done_at), [a.reason, "wrap"], [a.last_error, "wrap"], result];
        if (a.status === "failed") row.cls = "hl-failed";
        if (a.status === "refused") row.cls = "hl-refused";
        return row;
      }), "relayq has taken no routing action.");
    table(document.getElementById("undecodable"),
      ["Received (UTC)", "Event", "Action", "Repository", "Delivery", "Reason"],
      bad.items.map(function (d) {
        return [when(d.received_at), d.event, d.action, d.repository,
                [d.id, "", ["data-undecodable", d.id]], [d.reason, "wrap"]];
      }), "Every delivery decoded.");
  }

  function refresh() {
    Promise.all([api("/api/v1/summary"), api("/api/v1/jobs?limit=25"), api("/api/v1/actions?limit=25"),
                 api("/api/v1/deliveries?status=undecodable&limit=25"),
                 api("/api/v1/waits?since=30d&by=day")])
      .then(function (r) {
        document.getElementById("error").style.display = "none";
        render(r[0], r[1], r[2], r[3], r[4]);
        document.body.setAttribute("data-loaded", "1");
      })
      .catch(function (e) {
        var el = document.getElementById("error");
        el.textContent = "Cannot load: " + e.message +
          (token ? "" : " \u2014 open this page as /?token=YOUR_ADMIN_TOKEN");
        el.style.display = "block";
      })
      .then(function () { setTimeout(refresh, 10000); });
  }
  refresh();
})();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view DashboardHtml() { return kPage; }

}  // namespace relayq::server
