/* The live run page, the run comparison and the `progress` snapshot: one script for all three.

   Events come from the page's config (a snapshot's history) and from server-sent events, one
   stream per run. Applying an event only updates state and marks what it touched; drawing
   happens once per animation frame, and charts redraw within a time budget per frame, so a
   burst of events (100/s) or a long history (10,000 points a series) never makes a long frame.
   Charts are uPlot (vendored, inlined): every series is decimated to a minimum and a maximum per two
   pixels before drawing, so a redraw costs the same at 500 points as at 10,000. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("progress-config").textContent);
  var comparing = config.mode === "compare";
  var $ = function (id) { return document.getElementById(id); };
  var TERMINAL = ["Succeeded", "Failed", "Error", "Skipped", "Cancelled", "Canceled", "Terminated", "Omitted"];
  var FAILED = ["Failed", "Error"];
  var COLOURS = 8, HEIGHT = 220, FRAME_BUDGET = 10, CHART_INTERVAL = 250, APPLY_BUDGET = 8;
  /* A redrawn canvas is copied to the compositor when the frame commits (in software,
     without a GPU, about 4 ms each here): a few per frame keep that commit short. */
  var CHARTS_PER_FRAME = 2;
  var WHOLE = new Intl.NumberFormat("en-US");  /* one formatter: toLocaleString makes one a call */
  var MAX_LOGS = 20000, SHOWN_LOGS = 2000, TABLE_ROWS = 500, RATE_WINDOW = 10, CHECK_INTERVAL = 5000;
  var STEP_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2500, 5e3, 1e4, 2e4, 25e3, 5e4,
                    1e5, 2e5, 25e4, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];
  var DURATION_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                        43200, 86400, 172800, 604800];
  var X_LABELS = {step: "step", relative: "time since the run started", wall: "time"};
  /* Names that differ by one of these only share a chart: loss / val_loss, acc / val_acc. */
  var AFFIX = /^(val|valid|validation|train|training|test|eval|evaluation)[_/.-]|[_/.-](val|valid|validation|train|training|test|eval)$/i;

  var view = {x: "step", smoothing: 0, logY: false};
  var clockOffset = 0;  /* server clock minus this browser's, from heartbeats (seconds) */
  var total = 0;
  var charts = new Map(), tiles = new Map();
  var dirty = {steps: new Set(), runs: new Set(), charts: new Set(), tiles: new Set(), logs: [], header: true,
               order: false};
  var announcements = [];
  var frameQueued = false;
  /* What drawing and applying events cost, for the bench (bench/live_page_bench.py). */
  var stats = {frames: 0, drawMs: 0, maxDrawMs: 0, events: 0, applyMs: 0, maxApplyMs: 0, maxDataMs: 0, maxPlotMs: 0};

  function now() { return Date.now() / 1000 + clockOffset; }
  var el = kfpViz.el, duration = kfpViz.duration, clockTime = kfpViz.clockTime;
  function fmt(v) {
    if (v === null || v === undefined) return "\u2014";
    if (!isFinite(v)) return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return WHOLE.format(v);
    var a = Math.abs(v);
    if (a >= 1e6 || a < 1e-4) return v.toExponential(3);
    return String(+v.toPrecision(4));
  }
  /* Series colours from the style sheet, read once per colour scheme: getComputedStyle after
     a change to the page recalculates style, and this is asked on every redraw. */
  var palette = null;
  function colour(index) {
    if (!palette) {
      var style = getComputedStyle(document.documentElement);
      palette = [];
      for (var i = 0; i < COLOURS; i++) palette.push(style.getPropertyValue("--s" + i).trim());
    }
    return palette[index % COLOURS];
  }
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function announce(text) { announcements.push(text); schedule(); }

  /* ---- state: runs, their steps, series and logs ------------------------------------- */

  var runs = config.runs.map(function (r, index) {
    return {id: r.run_id, index: index, live: r.live_url, status: "", message: "", start: null, end: null,
            lastTs: null, count: 0, steps: new Map(), logs: [], series: new Map(), cursor: null,
            ended: !!r.ended, caughtUp: !r.events_url, conn: "connecting", url: r.events_url,
            known: null, problem: "", source: null, checking: false};
  });

  function step(run, id, ts) {
    var s = run.steps.get(id);
    if (!s) {
      s = {run: run, id: id, status: "", fraction: 0, current: null, total: null, start: ts, end: null,
           lastTs: ts, progress: [], counted: false, received: 0, age: 0, message: "", reason: "", lastLog: "", parents: null};
      run.steps.set(id, s);
      dirty.order = dirty.order || run.steps.size > 1;  /* steps may wait for this one */
      if (!comparing) addLogStep(id);
    }
    return s;
  }

  function apply(run, e) {
    run.count++; total++;
    run.cursor = e.cursor || run.cursor;
    var ts = e.ts;
    if (run.start === null || ts < run.start) run.start = ts;
    if (run.lastTs === null || ts > run.lastTs) run.lastTs = ts;
    dirty.runs.add(run); dirty.header = true;
    if (!e.node_id) {
      if (e.kind === "status") runStatus(run, e);
      return;
    }
    var s = step(run, e.node_id, ts);
    if (ts > s.lastTs) s.lastTs = ts;
    if (ts < s.start) s.start = ts;
    if (Array.isArray(e.parents)) { s.parents = e.parents; dirty.order = true; }
    if (e.started != null && e.started < s.start) s.start = e.started;  /* Argo's times */
    if (e.kind === "progress") progress(s, e);
    else if (e.kind === "status") stepStatus(s, e);
    else if (e.kind === "metric") addMetrics(run, s, e);
    else if (e.kind === "log") addLog(run, s, ts, e.message, "");
    if (e.message && e.kind !== "log") s.message = e.message;
    dirty.steps.add(s);
  }

  /* Progress as counts (current of total: a rate in items/s) or as a fraction alone (the
     ETA then follows the fraction's rate); a step switching between them starts over. */
  function progress(s, e) {
    s.fraction = e.fraction;
    var counted = e.current != null && e.total != null;
    if (counted) { s.current = e.current; s.total = e.total; }
    if (counted !== s.counted) { s.progress = []; s.counted = counted; }
    s.progress.push([e.ts, counted ? e.current : e.fraction]);
    if (s.progress.length > 4 * RATE_WINDOW) s.progress.splice(0, s.progress.length - RATE_WINDOW);
    /* the ETA counts down from when the event was received; for history, from its ts */
    s.received = performance.now();
    s.age = s.run.caughtUp ? 0 : Math.max(0, now() - e.ts);
    if (!s.status) s.status = "Running";
  }

  function stepStatus(s, e) {
    var was = s.status;
    s.status = e.status;
    if (e.status === "Succeeded") s.fraction = 1;
    if (TERMINAL.indexOf(e.status) >= 0) s.end = e.finished != null ? e.finished : e.ts; else s.end = null;
    if (FAILED.indexOf(was) >= 0) dirty.header = true;  /* retried: the failure is no longer on top */
    s.reason = "";
    if (FAILED.indexOf(e.status) >= 0) {
      s.reason = e.message || s.lastLog || "no reason given";
      addLog(s.run, s, e.ts, e.status + ": " + s.reason, "failed");
      dirty.header = true;
    }
    if (was !== e.status && s.run.caughtUp) announce((comparing ? s.run.id + ", " : "") + "step " + s.id + ": " + e.status);
  }

  function runStatus(run, e) {
    var was = run.status;
    run.status = e.status;
    run.message = e.message || "";
    run.end = TERMINAL.indexOf(e.status) >= 0 ? e.ts : null;
    if (was !== e.status && run.caughtUp) announce("run " + run.id + ": " + e.status);
  }

  function shownStatus(run) {
    if (run.status) return run.status;
    var any = false, failed = false;
    run.steps.forEach(function (s) { any = true; if (FAILED.indexOf(s.status) >= 0) failed = true; });
    return failed ? "Failed" : any ? "Running" : run.known === false ? "unknown" : "waiting";
  }

  /* ---- metrics: series, their charts and tiles ---------------------------------------- */

  function groupOf(name) { return name.replace(AFFIX, "") || name; }

  function addMetrics(run, s, e) {
    Object.keys(e.metrics).forEach(function (name) {
      var key = s.id + "\u0000" + name, ser = run.series.get(key);
      if (!ser) {
        ser = {run: run, node: s.id, name: name, group: e.group || groupOf(name), xs: [], ts: [], ys: [],
               stepped: false, sorted: true, chart: null, tile: null};
        run.series.set(key, ser);
      }
      var x = e.current != null ? e.current : ser.xs.length;
      if (e.current != null) ser.stepped = true;
      if (ser.xs.length && x < ser.xs[ser.xs.length - 1]) ser.sorted = false;
      ser.xs.push(x); ser.ts.push(e.ts); ser.ys.push(e.metrics[name]);
      place(ser);
    });
  }

  /* A value reported once, with no step, is a number (an evaluation's auc): a tile. */
  function isTile(ser) { return ser.xs.length === 1 && !ser.stepped; }

  function place(ser) {
    var name = ser.node + ": " + ser.name;
    if (isTile(ser)) {
      var tile = tiles.get(name) || makeTile(name);
      tile.entries.set(ser.run, ser);
      ser.tile = tile;
      dirty.tiles.add(tile);
      return;
    }
    if (ser.tile) {
      ser.tile.entries.delete(ser.run);
      dirty.tiles.add(ser.tile);
      ser.tile = null;
    }
    if (!ser.chart) {
      var key = comparing ? name : ser.node + ": " + ser.group;
      var chart = charts.get(key) || makeChart(key);
      chart.series.push(ser);
      if (comparing) chart.series.sort(function (a, b) { return a.run.index - b.run.index; });
      ser.chart = chart;
    }
    dirty.charts.add(ser.chart);
  }

  function makeTile(name) {
    var box = el("div", "tile", $("tiles"));
    box.dataset.metric = name;
    el("div", "tile-name", box, name);
    var tile = {name: name, box: box, value: el("div", "tile-value", box), entries: new Map()};
    tiles.set(name, tile);
    return tile;
  }

  function drawTile(tile) {
    tile.box.hidden = tile.entries.size === 0;
    tile.value.textContent = "";
    tile.entries.forEach(function (ser, run) {
      var line = el("div", "", tile.value);
      if (comparing) {  /* the run's colour, as in the legend; its name for screen readers */
        swatch(line, run.index).setAttribute("aria-hidden", "true");
        el("span", "visually-hidden", line, run.id + " ");
        line.title = run.id;
      }
      line.appendChild(document.createTextNode(fmt(ser.ys[0])));
      line.dataset.value = ser.ys[0];
    });
  }

  function swatch(parent, index) {
    var s = el("span", "swatch", parent);
    s.style.background = colour(index);
    return s;
  }

  function makeChart(key) {
    var box = el("div", "chart", $("charts"));
    box.dataset.metric = key;
    el("h3", "", box, key);
    var readout = el("div", "readout", box);
    var plotEl = el("div", "plot", box);
    plotEl.setAttribute("role", "img");
    plotEl.setAttribute("aria-label", "Chart of " + key + "; its points are in the table below it");
    var details = el("details", "points", box);
    el("summary", "", details, "Table of points");
    var wrap = el("div", "table-wrap", details);
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", "Points of " + key);
    var chart = {key: key, box: box, readout: readout, plotEl: plotEl, details: details, wrap: wrap,
                 series: [], plot: null, signature: "", data: null, drawn: [], visible: true,
                 zoomed: false, tableAt: 0, nextAt: 0, width: 0};
    details.addEventListener("toggle", function () { if (details.open) drawTable(chart); });
    charts.set(key, chart);
    if (visibility) visibility.observe(box);
    if (sizes) sizes.observe(plotEl);
    $("no-metrics").hidden = true;
    return chart;
  }

  /* The x values of a series as the x-axis setting asks. */
  function xsOf(ser) {
    if (view.x === "step") return ser.xs;
    var offset = view.x === "relative" ? ser.run.start : 0;
    return ser.ts.map(function (t) { return t - offset; });
  }

  /* TensorBoard's smoothing: an exponential moving average, debiased at the start. */
  function smooth(ys, weight) {
    var out = new Array(ys.length), last = 0, factor = 1;
    for (var i = 0; i < ys.length; i++) {
      last = last * weight + (1 - weight) * ys[i];
      factor *= weight;
      out[i] = last / (1 - factor);
    }
    return out;
  }

  function sortedPairs(xs, ys) {
    var order = xs.map(function (_, i) { return i; });
    order.sort(function (a, b) { return xs[a] - xs[b] || a - b; });
    return [order.map(function (i) { return xs[i]; }), order.map(function (i) { return ys[i]; })];
  }

  /* At most a minimum and a maximum per bucket (about a pixel each), in order: the shape of
     the line is kept (every spike shows) while the points drawn stay about 2 x the width. */
  function decimate(xs, ys, buckets) {
    var n = xs.length;
    if (n <= 2 * buckets) return [xs, ys];
    var x0 = xs[0], span = (xs[n - 1] - x0) || 1, ox = [], oy = [];
    var bucket = -1, lo = -1, hi = -1;
    function flush() {
      if (lo < 0) return;
      var a = Math.min(lo, hi), b = Math.max(lo, hi);
      ox.push(xs[a]); oy.push(ys[a]);
      if (b !== a) { ox.push(xs[b]); oy.push(ys[b]); }
    }
    for (var i = 0; i < n; i++) {
      var b = Math.min(buckets - 1, Math.floor((xs[i] - x0) / span * buckets));
      if (b !== bucket) { flush(); bucket = b; lo = hi = i; continue; }
      var y = ys[i];
      if (y < ys[lo]) lo = i;
      if (y > ys[hi]) hi = i;
    }
    flush();
    if (ox[ox.length - 1] !== xs[n - 1]) { ox.push(xs[n - 1]); oy.push(ys[n - 1]); }
    return [ox, oy];
  }

  /* uPlot wants one ascending x array and one y array per series (null where it has no point). */
  function align(columns) {
    if (columns.length === 1) return [columns[0][0], columns[0][1]];
    var first = columns[0][0], same = columns.every(function (c) {
      if (c[0].length !== first.length) return false;
      for (var i = 0; i < first.length; i++) if (c[0][i] !== first[i]) return false;
      return true;
    });
    if (same) return [first].concat(columns.map(function (c) { return c[1]; }));
    var all = [];
    columns.forEach(function (c) { for (var i = 0; i < c[0].length; i++) all.push(c[0][i]); });
    all.sort(function (a, b) { return a - b; });
    var xs = [];
    for (var i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) xs.push(all[i]);
    var out = [xs];
    columns.forEach(function (c) {
      var ys = new Array(xs.length).fill(null), j = 0;
      for (var k = 0; k < c[0].length; k++) {
        while (xs[j] < c[0][k]) j++;
        ys[j] = c[1][k];
      }
      out.push(ys);
    });
    return out;
  }

  /* What a chart draws: each series (smoothed when asked, with the raw line faint behind it),
     decimated to the chart's width, aligned. */
  function chartData(chart, width) {
    var drawn = [], columns = [], buckets = Math.ceil(width / 2);
    chart.series.forEach(function (ser, i) {
      var pair = [xsOf(ser), ser.ys];
      if (!ser.sorted || view.x !== "step" && ser.ts.length > 1) pair = ensureSorted(pair);
      var c = comparing ? colour(ser.run.index) : colour(i);
      var label = comparing ? ser.run.id : ser.name;
      if (view.smoothing > 0) {
        columns.push(decimate(pair[0], clean(pair[1]), buckets));
        drawn.push({label: label + " (raw)", colour: c + "4d", raw: true, ser: ser});
        pair = [pair[0], smooth(pair[1], view.smoothing)];
      }
      columns.push(decimate(pair[0], clean(pair[1]), buckets));
      drawn.push({label: label, colour: c, raw: false, ser: ser});
    });
    return {drawn: drawn, data: align(columns)};
  }
  function ensureSorted(pair) {
    var xs = pair[0];
    for (var i = 1; i < xs.length; i++) if (xs[i] < xs[i - 1]) return sortedPairs(xs, pair[1]);
    return pair;
  }
  function clean(ys) {
    return view.logY ? ys.map(function (y) { return y > 0 ? y : null; }) : ys;
  }

  function axis(label) {
    var fg = cssVar("--muted"), grid = cssVar("--grid");
    return {label: label, stroke: fg, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1},
            font: "11px system-ui, sans-serif", labelFont: "12px system-ui, sans-serif"};
  }

  function plotOptions(chart, drawn, width) {
    var xAxis = axis(X_LABELS[view.x]);
    if (view.x === "relative") {
      xAxis.incrs = DURATION_INCRS;  /* ticks at whole seconds, minutes, hours */
      xAxis.values = function (u, splits) { return splits.map(duration); };
    }
    if (view.x === "step" && chart.series.every(function (ser) { return ser.xs.every(Number.isInteger); })) {
      xAxis.incrs = STEP_INCRS;  /* whole steps: no tick at 2.5 */
      xAxis.values = function (u, splits) { return splits.map(fmt); };
    }
    var yAxis = Object.assign(axis(""), {size: 64, labelSize: 0,
      values: function (u, splits) { return splits.map(function (v) { return v == null ? "" : fmt(v); }); }});
    return {
      width: width, height: HEIGHT, legend: {show: false},
      scales: {x: {time: view.x === "wall"}, y: view.logY ? {distr: 3, log: 10} : {}},
      axes: [xAxis, yAxis],
      series: [{label: X_LABELS[view.x]}].concat(drawn.map(function (d) {
        return {label: d.label, stroke: d.colour, width: d.raw ? 1 : 1.75, spanGaps: true,
                points: {show: false}};
      })),
      cursor: {drag: {x: true, y: false, setScale: true}, points: {size: 7},
               bind: {dblclick: function (u) { return function () { chart.zoomed = false; u.setData(u.data, true); return null; }; }}},
      hooks: {
        setCursor: [function (u) { readout(chart, u.cursor.idx); }],
        setSelect: [function (u) { if (u.select.width > 0) chart.zoomed = true; }],
      },
    };
  }

  function draw(chart) {
    /* The width as last observed: reading clientWidth here would force a layout per chart */
    var width = Math.max(200, chart.width || Math.floor(chart.plotEl.clientWidth));
    var started = performance.now();
    var made = chartData(chart, width);
    var computed = performance.now();
    var signature = made.drawn.map(function (d) { return d.label + d.colour; }).join("|") +
                    view.x + view.logY + (view.smoothing > 0);
    if (!chart.plot || chart.signature !== signature) {
      if (chart.plot) chart.plot.destroy();
      chart.zoomed = false;
      chart.plot = new uPlot(plotOptions(chart, made.drawn, width), made.data, chart.plotEl);
      chart.signature = signature;
    } else {
      if (chart.plot.width !== width) chart.plot.setSize({width: width, height: HEIGHT});
      chart.plot.setData(made.data, !chart.zoomed);
    }
    var plotted = performance.now();
    stats.maxDataMs = Math.max(stats.maxDataMs, computed - started);
    stats.maxPlotMs = Math.max(stats.maxPlotMs, plotted - computed);
    chart.data = made.data; chart.drawn = made.drawn;
    var points = 0;
    chart.series.forEach(function (ser) { points += ser.ys.length; });
    chart.box.dataset.points = points;
    chart.box.dataset.drawnPoints = made.data[0].length;
    chart.box.dataset.series = chart.series.map(function (s) { return comparing ? s.run.id : s.name; }).join(",");
    chart.box.dataset.scale = view.logY ? "log" : "linear";
    chart.box.dataset.smoothing = view.smoothing;
    readout(chart, chart.plot.cursor.idx);
    if (chart.details.open && performance.now() - chart.tableAt > 1000) drawTable(chart);
  }

  /* The hover readout: x and every series' value there; the latest values otherwise. */
  function readout(chart, idx) {
    var box = chart.readout, data = chart.data;
    if (!data) return;
    var hovering = idx != null && idx >= 0 && idx < data[0].length;
    var labels = chart.drawn.filter(function (d) { return !d.raw; });
    var key = labels.map(function (d) { return d.label + d.colour; }).join("|");
    if (chart.readoutKey !== key) {  /* the series changed: new items */
      chart.readoutKey = key;
      box.textContent = "";
      chart.lead = el("span", "item", box);
      chart.items = labels.map(function (d) {
        var item = el("span", "item", box);
        item.dataset.series = d.label;
        swatch(item, comparing ? d.ser.run.index : chart.series.indexOf(d.ser)).setAttribute("aria-hidden", "true");
        item.appendChild(document.createTextNode(""));
        return item;
      });
    }
    box.dataset.hover = hovering ? "1" : "";
    if (hovering) box.dataset.x = data[0][idx];
    else delete box.dataset.x;
    chart.lead.textContent = hovering ? xText(data[0][idx]) : "latest";
    chart.drawn.forEach(function (d, i) {
      if (d.raw) return;
      var column = data[i + 1], at = -1;
      if (hovering) at = nearest(column, idx);
      else for (var k = column.length - 1; k >= 0 && at < 0; k--) if (column[k] != null) at = k;
      var value = at < 0 ? null : column[at];
      var item = chart.items[labels.indexOf(d)];
      item.dataset.value = value == null ? "" : value;
      /* a series with no point here shows its nearest one, and says where that is */
      item.lastChild.data = d.label + " " + fmt(value) + (hovering && at >= 0 && at !== idx ? " (" + xText(data[0][at]) + ")" : "");
    });
  }
  function nearest(column, idx) {
    for (var d = 0; d < 64; d++) {
      if (column[idx - d] != null) return idx - d;
      if (column[idx + d] != null) return idx + d;
    }
    return -1;
  }
  function xText(x) {
    if (view.x === "step") return "step " + fmt(x);
    if (view.x === "relative") return "+" + duration(x);
    return clockTime(x, true);
  }

  /* The text alternative: the chart's points (the newest TABLE_ROWS), undecimated. */
  function drawTable(chart) {
    chart.tableAt = performance.now();
    var columns = chart.series.map(function (ser) { return ensureSorted([xsOf(ser), ser.ys]); });
    var data = align(columns), n = data[0].length, from = Math.max(0, n - TABLE_ROWS);
    var table = el("table");
    el("caption", "visually-hidden", table, "Points of " + chart.key);
    var head = el("tr", "", el("thead", "", table));
    el("th", "", head, X_LABELS[view.x]).scope = "col";
    chart.series.forEach(function (ser) { el("th", "", head, comparing ? ser.run.id : ser.name).scope = "col"; });
    var body = el("tbody", "", table);
    for (var i = from; i < n; i++) {
      var tr = el("tr", "", body);
      el("th", "", tr, view.x === "step" ? fmt(data[0][i]) : xText(data[0][i])).scope = "row";
      for (var c = 1; c < data.length; c++) el("td", "", tr, data[c][i] == null ? "" : String(data[c][i]));
    }
    chart.wrap.textContent = "";
    if (from > 0) el("p", "muted", chart.wrap, "The newest " + TABLE_ROWS + " of " + n + " points.");
    chart.wrap.appendChild(table);
  }

  /* ---- steps, runs and the header --------------------------------------------------- */

  /* A row with a name, a status badge, a percentage, a progress bar and a timing line: a
     step on the run page, a run (with its colour and a link to its page) when comparing. */
  function progressRow(what, id) {
    var row = el("div", "step", $("steps")), shown = {row: row};
    var head = el("div", "step-head", row);
    shown.name = el("span", "name", head);
    shown.name.title = id;
    shown.badge = el("span", "badge", head);
    shown.pct = el("span", "pct", head);
    shown.bar = el("div", "bar", row);
    shown.bar.setAttribute("role", "progressbar");
    shown.bar.setAttribute("aria-label", "Progress of " + what + " " + id);
    shown.bar.setAttribute("aria-valuemin", "0");
    shown.bar.setAttribute("aria-valuemax", "100");
    shown.fill = el("div", "fill", shown.bar);
    shown.timing = el("div", "timing", row);
    return shown;
  }
  function showProgress(shown, fraction, status, text) {
    var pct = Math.round(100 * fraction);
    shown.fill.style.width = (100 * fraction).toFixed(1) + "%";
    shown.fill.className = "fill" + (status ? " s-" + status : "");
    shown.bar.setAttribute("aria-valuenow", String(pct));
    shown.bar.setAttribute("aria-valuetext", text + pct + "%" + (status ? ", " + status : ""));
    shown.badge.textContent = status;
    shown.badge.className = "badge s-" + status;
    shown.badge.hidden = !status;
    shown.row.dataset.status = status;
    return pct;
  }

  function rate(s) {
    var p = s.progress;
    if (p.length < 2) return null;
    var last = p[p.length - 1], first = p[Math.max(0, p.length - 1 - RATE_WINDOW)];
    var dt = last[0] - first[0], dc = last[1] - first[1];
    return dt > 0 && dc > 0 ? dc / dt : null;
  }
  function rateText(r) { return r >= 1 ? fmt(+r.toPrecision(3)) + " items/s" : fmt(+(1 / r).toPrecision(3)) + " s/item"; }

  function drawStep(s) {
    if (!s.shown) {
      s.shown = progressRow("step", s.id);
      s.shown.row.dataset.node = s.id;
      s.shown.name.textContent = s.id;
      s.reasonEl = el("div", "reason", s.shown.row);
      s.msg = el("div", "msg", s.shown.row);
    }
    var counted = s.current != null && s.total != null ? fmt(s.current) + " of " + fmt(s.total) + ", " : "";
    var pct = showProgress(s.shown, s.fraction, s.status, counted);
    s.shown.row.dataset.fraction = s.fraction;
    s.shown.pct.textContent = (counted ? fmt(s.current) + "/" + fmt(s.total) + " \u00b7 " : "") + pct + "%";
    s.shown.timing.textContent = timing(s);
    s.reasonEl.hidden = !s.reason;
    s.reasonEl.textContent = s.reason ? s.status + ": " + s.reason : "";
    s.msg.textContent = s.message;
    s.msg.hidden = !s.message || s.message === s.reason;
  }

  /* Each step below the steps it depends on (Argo's `parents`), else in order of arrival. */
  function dagOrder(run) {
    var left = [], placed = new Set(), box = $("steps"), i;
    run.steps.forEach(function (s) { if (s.shown) left.push(s); });
    var waits = function (s) {
      return (s.parents || []).some(function (p) { return run.steps.has(p) && !placed.has(p); });
    };
    while (left.length) {
      for (i = 0; i < left.length && waits(left[i]); i++) {}
      if (i === left.length) i = 0;  /* a cycle: keep the order */
      var s = left.splice(i, 1)[0];
      placed.add(s.id);
      box.appendChild(s.shown.row);
    }
  }

  function timing(s) {
    var parts = ["started " + clockTime(s.start)];
    var running = s.end === null;
    var elapsed = (running ? Math.max(now(), s.lastTs) : s.end) - s.start;
    parts.push((running ? "elapsed " : "took ") + duration(elapsed));
    s.shown.timing.dataset.elapsed = elapsed.toFixed(1);
    var r = rate(s);
    if (r && s.counted) parts.push(rateText(r));
    delete s.shown.timing.dataset.eta;
    if (running && r && s.status !== "Pending") {
      var left = s.counted ? s.total - s.current : 1 - s.fraction;
      var eta = Math.max(0, left / r - s.age - (performance.now() - s.received) / 1000);
      s.shown.timing.dataset.eta = eta.toFixed(1);
      parts.push("ETA " + duration(eta));
    }
    if (s.parents && s.parents.length) parts.push("after " + s.parents.join(", "));
    return parts.join(" \u00b7 ");
  }

  function runClock(run) {
    if (run.start === null) return "";
    var end = run.end !== null ? run.end : null;
    var shown = shownStatus(run), over = end !== null || TERMINAL.indexOf(shown) >= 0 && run.ended;
    var until = end !== null ? end : over ? run.lastTs : Math.max(now(), run.lastTs);
    return "started " + clockTime(run.start) + " \u00b7 " + (over ? "took " : "elapsed ") + duration(until - run.start);
  }

  function runFraction(run) {
    var sum = 0, n = 0;
    run.steps.forEach(function (s) { sum += s.fraction; n++; });
    return n ? sum / n : 0;
  }

  /* Comparing: one row per run with its colour (the legend), status, clock and progress. */
  function drawRunRow(run) {
    if (!run.shown) {
      run.shown = progressRow("run", run.id);
      run.shown.row.dataset.run = run.id;
      swatch(run.shown.name, run.index).setAttribute("aria-hidden", "true");
      if (run.live) el("a", "", run.shown.name, run.id).href = run.live;
      else el("span", "", run.shown.name, run.id);
    }
    var status = shownStatus(run);
    var pct = showProgress(run.shown, runFraction(run), status, run.steps.size + " steps, ");
    run.shown.pct.textContent = pct + "%";
    var conn = run.problem || (run.known === false && !run.count ? "no run with this id is known yet" : run.conn);
    run.shown.timing.textContent = [runClock(run), run.steps.size + " steps", conn].filter(Boolean).join(" \u00b7 ");
  }

  function drawHeader() {
    var run = runs[0];
    $("count").textContent = total;
    if (comparing) {
      var live = runs.filter(function (r) { return r.conn === "live"; }).length;
      var done = runs.filter(function (r) { return r.ended; }).length;
      $("conn").textContent = done === runs.length ? "all runs finished" : live + done + " of " + runs.length + " runs followed";
      var failed = runs.filter(function (r) { return FAILED.indexOf(shownStatus(r)) >= 0; }).length;
      var badge = $("run-status");
      badge.textContent = done === runs.length ? (failed ? failed + " failed" : "all finished") : "running";
      badge.className = "badge s-" + (failed ? "Failed" : done === runs.length ? "Succeeded" : "Running");
      return;
    }
    var status = shownStatus(run);
    $("run-status").textContent = status;
    $("run-status").className = "badge s-" + status;
    $("clock").textContent = runClock(run);
    $("conn").textContent = run.conn;
    drawFailure(run);
  }

  /* Failures go on top: which step failed, and why (the status' message, else its last log). */
  function drawFailure(run) {
    var box = $("failure"), lines = [];
    run.steps.forEach(function (s) {
      if (FAILED.indexOf(s.status) >= 0) lines.push("Step " + s.id + " " + s.status.toLowerCase() + " at " + clockTime(s.end) + ": " + s.reason);
    });
    if (FAILED.indexOf(run.status) >= 0 && run.message) lines.unshift("Run " + run.status.toLowerCase() + ": " + run.message);
    var text = lines.join("\n");
    if (box.dataset.text === text) return;
    box.dataset.text = text;
    box.hidden = !lines.length;
    box.textContent = "";
    lines.forEach(function (line) { el("p", "", box, line); });
  }

  /* ---- logs -------------------------------------------------------------------------- */

  function addLogStep(id) {
    var option = el("option", "", $("log-step"), id);
    option.value = id;
  }

  function addLog(run, s, ts, text, kind) {
    var entry = {node: s.id, ts: ts, text: text, kind: kind};
    run.logs.push(entry);
    if (run.logs.length > MAX_LOGS) run.logs.splice(0, run.logs.length - MAX_LOGS / 2);
    if (!kind) s.lastLog = text;
    if (!comparing) dirty.logs.push(entry);
  }

  function logMatches(entry) {
    var node = $("log-step").value, text = $("log-filter").value.trim().toLowerCase();
    return (!node || entry.node === node) && (!text || entry.text.toLowerCase().indexOf(text) >= 0 ||
                                              entry.node.toLowerCase().indexOf(text) >= 0);
  }

  function logLine(entry) {
    var line = el("div", "entry" + (entry.kind ? " " + entry.kind : ""));
    line.dataset.node = entry.node;
    var time = el("time", "", line, clockTime(entry.ts, true));
    time.dateTime = new Date(entry.ts * 1000).toISOString();
    line.appendChild(document.createTextNode(" [" + entry.node + "] " + entry.text));
    return line;
  }

  function drawLogs(all) {
    var log = $("log"), run = runs[0];
    var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    var entries = all ? run.logs : dirty.logs;
    if (all) log.textContent = "";
    var matching = entries.filter(logMatches);
    matching.slice(-SHOWN_LOGS).forEach(function (entry) { log.appendChild(logLine(entry)); });
    while (log.childElementCount > SHOWN_LOGS) log.removeChild(log.firstChild);
    if (atEnd || all) log.scrollTop = log.scrollHeight;
    $("log-count").textContent = log.childElementCount + " lines" + (run.logs.length > log.childElementCount ? " of " + run.logs.length : "");
    drawFailedOnTop(run);
  }

  /* A failed step's reason sits above its log lines (above every line when no step is picked). */
  function drawFailedOnTop(run) {
    var box = $("log-failed"), node = $("log-step").value;
    box.textContent = "";
    run.steps.forEach(function (s) {
      if (FAILED.indexOf(s.status) < 0 || node && s.id !== node) return;
      var line = el("div", "entry failed", box);
      line.dataset.node = s.id;
      el("time", "", line, clockTime(s.end, true)).dateTime = new Date(s.end * 1000).toISOString();
      line.appendChild(document.createTextNode(" [" + s.id + "] " + s.status + ": " + s.reason));
    });
  }

  /* ---- the inbox: events applied a slice at a time ---------------------------------- */

  /* A history of 10,000 events arrives in a few chunks, and a browser dispatches a chunk's
     events in one task: handled there, they would hold the page for half a second. They
     wait here instead and are applied for at most APPLY_BUDGET ms at a time, yielding
     (through a message port: setTimeout would wait 4 ms each time) so frames get drawn. */
  var inbox = [], inboxAt = 0, pumping = false, port = new MessageChannel();
  function later(task) {
    inbox.push(task);
    if (!pumping) { pumping = true; port.port2.postMessage(null); }
  }
  port.port1.onmessage = function () {
    var started = performance.now();
    while (inboxAt < inbox.length) {
      var before = performance.now();
      inbox[inboxAt++]();
      var spent = performance.now() - before;
      stats.events++; stats.applyMs += spent; stats.maxApplyMs = Math.max(stats.maxApplyMs, spent);
      if (performance.now() - started > APPLY_BUDGET) break;
    }
    if (inboxAt >= inbox.length) { inbox = []; inboxAt = 0; pumping = false; }
    else port.port2.postMessage(null);
    schedule();
  };

  /* ---- drawing, once per frame ------------------------------------------------------- */

  function schedule() {
    if (!frameQueued) { frameQueued = true; requestAnimationFrame(frame); }
  }

  function frame() {
    frameQueued = false;
    var started = performance.now();
    if (comparing) dirty.runs.forEach(drawRunRow);
    else dirty.steps.forEach(drawStep);
    if (dirty.order && !comparing) runs.forEach(dagOrder);
    dirty.order = false;
    dirty.steps.clear(); dirty.runs.clear();
    dirty.tiles.forEach(drawTile); dirty.tiles.clear();
    if (dirty.logs.length) { drawLogs(false); dirty.logs = []; }
    if (dirty.header) { drawHeader(); dirty.header = false; }
    if (announcements.length) { $("announce").textContent = announcements.slice(-3).join(". "); announcements = []; }
    /* Charts: each at most every CHART_INTERVAL, or 20 times what its last redraw took (a
       costly chart gets at most 5% of the time); the first one, then others while the
       frame's budget lasts, up to CHARTS_PER_FRAME, oldest first. */
    var drawnHere = 0;
    dirty.charts.forEach(function (chart) {
      if (!chart.visible || started < chart.nextAt) return;
      if (drawnHere && (drawnHere >= CHARTS_PER_FRAME || performance.now() - started > FRAME_BUDGET)) return;
      dirty.charts.delete(chart);
      var before = performance.now();
      draw(chart);
      var cost = performance.now() - before;
      chart.nextAt = before + Math.max(CHART_INTERVAL, 20 * cost);
      drawnHere++;
    });
    var spent = performance.now() - started;
    stats.frames++; stats.drawMs += spent; stats.maxDrawMs = Math.max(stats.maxDrawMs, spent);
    var pending = false;
    dirty.charts.forEach(function (chart) { if (chart.visible) pending = true; });
    if (pending) schedule();
  }

  var visibility = "IntersectionObserver" in window ? new IntersectionObserver(function (seen) {
    seen.forEach(function (entry) {
      var chart = charts.get(entry.target.dataset.metric);
      if (!chart) return;
      chart.visible = entry.isIntersecting;
      if (chart.visible && dirty.charts.has(chart)) schedule();
    });
  }, {rootMargin: "200px"}) : null;

  var sizes = "ResizeObserver" in window ? new ResizeObserver(function (seen) {
    seen.forEach(function (entry) {
      var chart = charts.get(entry.target.parentNode.dataset.metric), width = Math.floor(entry.contentRect.width);
      if (!chart || width === chart.width) return;
      chart.width = width;
      dirty.charts.add(chart);
      chart.nextAt = 0;
      schedule();
    });
  }) : null;

  function redrawAll() {  /* the reader changed something: now, not at the next interval */
    charts.forEach(function (chart) { dirty.charts.add(chart); chart.nextAt = 0; });
    schedule();
  }

  /* ---- controls ---------------------------------------------------------------------- */

  $("x-mode").addEventListener("change", function (e) { view.x = e.target.value; redrawAll(); });
  $("smoothing").addEventListener("input", function (e) {
    view.smoothing = +e.target.value;
    $("smoothing-value").textContent = view.smoothing.toFixed(2);
    redrawAll();
  });
  $("log-y").addEventListener("change", function (e) { view.logY = e.target.checked; redrawAll(); });
  $("log-step").addEventListener("change", function () { drawLogs(true); });
  $("log-filter").addEventListener("input", function () { drawLogs(true); });
  if (window.matchMedia) {
    var scheme = window.matchMedia("(prefers-color-scheme: dark)");
    if (scheme.addEventListener) scheme.addEventListener("change", function () {
      palette = null;
      charts.forEach(function (chart) { chart.signature = ""; });
      tiles.forEach(function (tile) { dirty.tiles.add(tile); });
      redrawAll();
    });
  }
  setInterval(function () {  /* clocks, elapsed times and ETAs move between events */
    runs.forEach(function (run) {
      dirty.runs.add(run);
      run.steps.forEach(function (s) { if (s.end === null && s.status !== "") dirty.steps.add(s); });
    });
    dirty.header = true;
    schedule();
  }, 1000);

  /* ---- the page's frame: heading, links ---------------------------------------------- */

  function setUp() {
    $("heading").textContent = comparing ? "Comparing " + runs.length + " runs" : "Run " + runs[0].id;
    $("note").textContent = config.note || "";
    $("steps-heading").textContent = comparing ? "Runs" : "Steps";
    $("logs-section").hidden = comparing;
    var links = $("links"), shown = false;
    (config.links || []).forEach(function (l) {
      var a = el("a", "", links, l.text);
      a.href = l.url;
      shown = true;
    });
    links.hidden = !shown;
  }

  function route(name, id) { return kfpViz.route(config.urls, name, id); }

  function changed(run) { dirty.header = true; dirty.runs.add(run); schedule(); }

  /* A run with no events: is there such a run at all? The server says (404: no event of it
     is known). Its stream, while open, brings the run's first event whenever it comes; a
     stream the server refused is opened again once the run is known. */
  function checkKnown(run) {
    if (!config.urls) {
      if (!comparing && !run.count) $("note").textContent = "no events for this run yet; waiting for them";
      return;
    }
    if (run.checking || run.count) return;
    run.checking = true;
    kfpViz.getJson(route("run", run.id)).then(function (answer) {
      run.checking = false;
      knownAs(run, answer[0], answer[1]);
    }, function () {
      run.checking = false;
      if (!run.source) setTimeout(function () { checkKnown(run); }, CHECK_INTERVAL);
    });
  }
  function knownAs(run, status, body) {
    if (run.count) return;  /* events came meanwhile */
    run.known = status === 404 ? false : status === 200 ? true : run.known;
    var problem = status === 200 || status === 404 ? "" : body.error || "the server answered " + status;
    run.problem = problem;
    if (!comparing) {
      showUnknown(run.known === false ? run : null);
      $("note").textContent = problem || (run.known ? "no events for this run yet; waiting for them" : config.note || "");
    }
    changed(run);
    if (run.known && !run.source && !problem) follow(run);
    else if (!run.source) setTimeout(function () { checkKnown(run); }, CHECK_INTERVAL);
  }
  function showUnknown(run) {
    var box = $("unknown");
    box.hidden = !run;
    if (!run || box.dataset.run === run.id) return;
    box.dataset.run = run.id;
    box.textContent = "No run " + run.id + " is known yet: no event of it has been published. " +
      "This page keeps checking and shows the run as soon as it starts. ";
    el("a", "", box, "See the runs that are known").href = route("list");
  }

  function follow(run) {
    var url = run.url;
    if (run.ended) { run.conn = "run finished"; return; }
    if (!url) { run.conn = "snapshot (no live updates)"; return; }
    if (typeof EventSource === "undefined") { run.conn = "snapshot (no EventSource)"; return; }
    var source = run.source = new EventSource(url);
    /* In arrival order, through the inbox: a stream's history comes in large chunks. */
    function on(name, handle) {
      source.addEventListener(name, function (m) { later(function () { handle(m.data); }); });
    }
    on("open", function () { run.conn = "live"; changed(run); });
    on("progress", function (data) {
      if (!run.count && run.known === false) {
        run.known = true; run.problem = "";
        if (!comparing) showUnknown(null);
      }
      apply(run, JSON.parse(data));
    });
    on("caught_up", function (data) {
      run.caughtUp = true; run.conn = "live";
      if (!run.count && !JSON.parse(data).events) checkKnown(run);
      changed(run);
    });
    on("heartbeat", function (data) {
      var h = JSON.parse(data);
      if (h.server_time) clockOffset = h.server_time - Date.now() / 1000;
      run.conn = h.upstream_reachable ? "live" : "live, but " + h.upstream + " is unreachable" + (h.detail ? " (" + h.detail + ")" : "");
      $("conn").dataset.upstream = h.upstream_reachable ? "up" : "down";
      changed(run);
    });
    on("lagged", function () { run.conn = "live (caught up after falling behind)"; changed(run); });
    source.addEventListener("end", function () {
      run.ended = true; source.close();
      later(function () { run.conn = "run finished"; changed(run); });
    });
    source.addEventListener("error", function () {
      if (run.ended) return;
      if (source.readyState === EventSource.CLOSED) {  /* refused (not 200): it will not retry */
        run.source = null; run.conn = "not followed";
        checkKnown(run);
      } else {
        run.conn = "reconnecting (last event " + (run.cursor || "none") + ")";
      }
      changed(run);
    });
  }

  setUp();
  if (comparing) runs.forEach(drawRunRow);  /* the legend, in the order the runs were named */
  config.runs.forEach(function (r, i) {
    var run = runs[i];
    (r.events || []).forEach(function (e) { later(function () { apply(run, e); }); });
    if (r.events && r.events.length && config.note) $("note").textContent = config.note;
    follow(run);
  });
  schedule();
  window.kfpVizLive = {runs: runs, charts: charts, view: view, stats: stats};  /* for tests and the bench */
})();
