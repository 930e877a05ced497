/* The run list: the runs the reader may see, newest first, filtered by a part of their id, their
   status and namespace, asked of `GET /progress/runs` again every few seconds (and at once when
   a filter changes); runs picked here open the comparison. Rows are kept by run id and updated
   in place, so a poll never takes the focus or a half-made pick away. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("progress-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var el = kfpViz.el, duration = kfpViz.duration, clockTime = kfpViz.clockTime;
  var POLL = 3000, TYPING = 250, LIMIT = 200, MAX = config.max_compared;
  var rows = new Map();  /* run id -> its row's elements */
  var picked = (config.selected || []).slice();
  var namespaces = new Set();
  var asked = 0, shown = 0, timer = null, clockOffset = 0, lastFailure = "";

  function route(name, id) { return kfpViz.route(config.urls, name, id); }
  function now() { return Date.now() / 1000 + clockOffset; }

  function when(ts) {
    var d = new Date(ts * 1000), today = new Date(now() * 1000);
    var day = d.getFullYear() + "-" + kfpViz.pad(d.getMonth() + 1) + "-" + kfpViz.pad(d.getDate());
    return d.toDateString() === today.toDateString() ? clockTime(ts) : day + " " + clockTime(ts);
  }

  function query() {
    var q = ["limit=" + LIMIT];
    [["search", $("search").value.trim()], ["status", $("status").value], ["namespace", $("namespace").value]]
      .forEach(function (p) { if (p[1]) q.push(p[0] + "=" + encodeURIComponent(p[1])); });
    return route("runs") + "?" + q.join("&");
  }

  /* Ask for the list now; a later answer wins over an earlier one still on its way. */
  function poll() {
    clearTimeout(timer);
    var mine = ++asked;
    kfpViz.getJson(query()).then(function (answer) {
      if (mine < shown) return;
      shown = mine;
      if (answer[0] === 200) show(answer[1]);
      else failed(answer[1].error || "the server answered " + answer[0]);
    }, function (error) {
      if (mine >= shown) failed(String(error));
    }).then(function () {
      if (mine === asked) timer = setTimeout(function () { if (!document.hidden) poll(); }, POLL);
    });
  }

  function failed(reason) {
    $("list-state").textContent = "could not list the runs; trying again";
    var box = $("failure");
    if (reason === lastFailure) return;
    lastFailure = reason;
    box.textContent = "The run list did not load: " + reason;
    box.hidden = false;
  }

  function show(body) {
    lastFailure = "";
    $("failure").hidden = true;
    if (body.server_time) clockOffset = body.server_time - Date.now() / 1000;
    var list = $("runs"), runs = body.runs, ids = new Set();
    runs.forEach(function (run, i) {
      ids.add(run.run_id);
      if (run.namespace) namespaces.add(run.namespace);
      var row = rows.get(run.run_id) || makeRow(run);
      update(row, run);
      var at = list.children[i];
      if (at !== row.box) list.insertBefore(row.box, at || null);  /* moved only when out of place */
    });
    rows.forEach(function (row, id) {
      if (!ids.has(id)) { row.box.remove(); rows.delete(id); }
    });
    var total = body.total, count = runs.length;
    $("list-state").textContent = (count < total ? "the newest " + count + " of " + total + " runs" :
      total + (total === 1 ? " run" : " runs")) + " \u00b7 updated " + clockTime(now());
    $("list-state").dataset.total = total;
    var filtered = $("search").value.trim() || $("status").value || $("namespace").value;
    $("no-runs").hidden = count > 0;
    $("no-runs").textContent = filtered ? "No run matches these filters." :
      "No runs yet: a run shows here once one of its steps publishes progress.";
    showNamespaces();
    drawPicked();
  }

  function makeRow(run) {
    var row = {box: el("div", "step run"), id: run.run_id};
    row.box.dataset.run = run.run_id;
    var head = el("div", "step-head", row.box);
    row.pick = el("input", "", head);
    row.pick.type = "checkbox";
    row.pick.setAttribute("aria-label", "Pick run " + run.run_id + " to compare");
    row.pick.addEventListener("change", function () { toggle(run.run_id, row.pick.checked); });
    row.link = el("a", "name", head, run.run_id);
    row.link.href = route("live", run.run_id);
    row.link.title = run.run_id;
    row.badge = el("span", "badge", head);
    row.timing = el("div", "timing", row.box);
    row.reason = el("div", "reason", row.box);
    rows.set(run.run_id, row);
    return row;
  }

  function update(row, run) {
    row.box.dataset.status = run.status;
    row.badge.textContent = run.status;
    row.badge.className = "badge s-" + run.status;
    var parts = [];
    if (run.namespace) parts.push("namespace " + run.namespace);
    parts.push("started " + when(run.started));
    parts.push(run.ended ? "took " + duration(run.updated - run.started) : "last event " + duration(now() - run.updated) + " ago");
    parts.push(run.steps + (run.steps === 1 ? " step" : " steps"));
    row.timing.textContent = parts.join(" \u00b7 ");
    var failed = run.status === "Failed" || run.status === "Error";
    row.reason.hidden = !(failed && run.message);
    row.reason.textContent = failed ? run.message : "";
  }

  function showNamespaces() {  /* a namespace filter once there is more than one namespace */
    var select = $("namespace"), have = new Set();
    Array.prototype.forEach.call(select.options, function (o) { have.add(o.value); });
    Array.from(namespaces).sort().forEach(function (ns) {
      if (!have.has(ns)) el("option", "", select, ns).value = ns;
    });
    $("namespace-label").hidden = namespaces.size < 2 && !select.value;
  }

  /* ---- picking runs to compare --------------------------------------------------------- */

  function toggle(id, on) {
    var at = picked.indexOf(id);
    if (on && at < 0 && picked.length < MAX) picked.push(id);
    if (!on && at >= 0) picked.splice(at, 1);
    announce(on ? "picked run " + id : "run " + id + " no longer picked");
    drawPicked();
  }

  function drawPicked() {
    var box = $("picked"), full = picked.length >= MAX;
    box.textContent = "";
    picked.forEach(function (id) {
      var chip = el("span", "chip", box);
      chip.dataset.run = id;
      el("span", "", chip, id);
      var remove = el("button", "", chip, "\u00d7");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove run " + id);
      remove.addEventListener("click", function () { toggle(id, false); });
    });
    rows.forEach(function (row) {
      row.pick.checked = picked.indexOf(row.id) >= 0;
      row.pick.disabled = full && !row.pick.checked;
    });
    $("picked-help").textContent = picked.length < 2
      ? "Pick two or more runs below (at most " + MAX + ") to compare their metrics."
      : full ? picked.length + " runs picked, the most one comparison shows." : picked.length + " runs picked.";
    var go = $("compare-go");
    go.disabled = picked.length < 2;
    go.textContent = picked.length < 2 ? "Compare" : "Compare " + picked.length + " runs";
  }

  function announce(text) { $("announce").textContent = text; }

  /* Pages are sandboxed: the button makes the page navigate itself (no form is submitted). */
  $("compare-go").addEventListener("click", function () {
    if (picked.length < 2) return;
    window.location.href = route("compare") + "?runs=" + picked.map(encodeURIComponent).join(",");
  });

  var typing = null;
  $("search").addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(poll, TYPING); });
  $("status").addEventListener("change", poll);
  $("namespace").addEventListener("change", poll);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });

  drawPicked();
  poll();
  window.kfpVizRuns = {rows: rows, picked: picked, poll: poll};  /* for tests */
})();
