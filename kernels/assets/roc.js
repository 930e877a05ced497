/* roc_curve: one or more ROC curves drawn with uPlot: box zoom (double-click resets), a
   log-scaled FPR option, a legend that hides curves, and the operating-point table (the
   point at or under each chosen FPR, and the point under the pointer). */
(function (root) {
  "use strict";
  var kv = window.kvViz, data = kv.data(root), curves = data.curves;
  var box = root.querySelector(".kv-plot"), marker = root.querySelector(".kv-marker");
  var logBox = root.querySelector(".kv-log"), targetsBox = root.querySelector(".kv-targets");
  var opsBody = root.querySelector(".kv-ops tbody"), pointerRow = null;
  var shown = curves.map(function () { return true; });
  var plot = null, logScale = false, floor = logFloor();

  /* Where FPR 0 goes on the log axis: the power of ten at or below half the smallest
     non-zero FPR (a whole decade keeps uPlot's log ticks well-formed). */
  function logFloor() {
    var least = 1;
    curves.forEach(function (c) { c.fpr.forEach(function (v) { if (v > 0 && v < least) least = v; }); });
    return Math.pow(10, Math.floor(Math.log10(least / 2)));
  }
  /* uPlot wants one ascending x array: the curves' points are merged by (FPR, TPR), each
     curve holding values at its own points and nulls elsewhere (gaps are spanned). */
  function aligned() {
    var points = [];
    curves.forEach(function (c, ci) {
      for (var i = 0; i < c.fpr.length; i++) points.push([c.fpr[i], c.tpr[i], ci, i]);
    });
    points.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3]; });
    var xs = [], series = curves.map(function () { return []; });
    points.forEach(function (p) {
      xs.push(logScale ? Math.max(p[0], floor) : p[0]);
      for (var ci = 0; ci < curves.length; ci++) series[ci].push(ci === p[2] ? p[1] : null);
    });
    return [xs].concat(series);
  }
  function size() {
    var width = Math.max(240, Math.floor(box.clientWidth));
    return {width: width, height: Math.round(Math.min(Math.max(width * 0.62, 240), 560))};
  }
  function xRange() { return logScale ? [floor, 1] : [0, 1]; }
  function build() {
    if (plot) plot.destroy();
    var colours = kv.palette(root), fg = kv.css(root, "--kv-muted"), grid = kv.css(root, "--kv-grid");
    var axis = function (label) {
      return {label: label, stroke: fg, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1},
              font: "11px system-ui, sans-serif", labelFont: "12px system-ui, sans-serif"};
    };
    var opts = Object.assign(size(), {
      legend: {show: false},
      scales: {
        x: {time: false, auto: false, range: within(xRange()), distr: logScale ? 3 : 1, log: 10},
        y: {auto: false, range: within([0, 1])},
      },
      axes: [Object.assign(axis(logScale ? "False positive rate (log scale)" : "False positive rate"),
                           logScale ? {splits: logSplits, values: logValues} : {}),
             axis("True positive rate")],
      series: [{}].concat(curves.map(function (c, i) {
        return {label: c.name, stroke: colours[i % colours.length], width: 2, spanGaps: true,
                points: {show: false}, show: shown[i]};
      })),
      cursor: {
        points: {show: false}, x: false, y: false,
        drag: {x: true, y: true, setScale: true},
        bind: {dblclick: function (u, target) {
          return function (event) { if (event.button === 0) resetZoom(); };
        }},
      },
      hooks: {setCursor: [pointer], draw: [diagonal], setScale: [showScale]},
    });
    plot = new uPlot(opts, aligned(), box.querySelector(".kv-canvas"));
    plot.over.appendChild(marker);
  }
  /* The visible ranges, on the plot's element: what a test (or anyone) can read. */
  function showScale(u, key) {
    box.setAttribute("data-" + key + "-range", kv.fmt(u.scales[key].min, 6) + " " + kv.fmt(u.scales[key].max, 6));
    box.setAttribute("data-scale", logScale ? "log" : "linear");
  }
  /* Log-axis ticks at 1, 2 and 5 times the powers of ten in view (all nine multiples when
     zoomed in closer; the ends when closer still). uPlot's own log ticks assume ranges that
     start on a power of ten, which a zoom box does not give. */
  function logSplits(u, axisIdx, min, max) {
    var found = [];
    [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]].some(function (multiples) {
      found = [];
      for (var e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
        multiples.forEach(function (m) {
          var v = +(m * Math.pow(10, e)).toPrecision(6);
          if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) found.push(v);
        });
      }
      return found.length >= 3;
    });
    return found.length >= 2 ? found : [min, max];
  }
  function logValues(u, splits) {  /* uPlot nulls the ticks it has no room to label */
    return splits.map(function (v) { return v === null ? "" : kv.fmt(v, 3); });
  }
  /* A scale's range: what a zoom asks for, else the full extent. */
  function within(full) {
    return function (u, min, max) { return min === null || max === null ? full : [min, max]; };
  }
  function resetZoom() {
    var x = xRange();
    plot.batch(function () {
      plot.setScale("x", {min: x[0], max: x[1]});
      plot.setScale("y", {min: 0, max: 1});
    });
  }
  function diagonal(u) {
    var ctx = u.ctx, steps = logScale ? 64 : 1, lo = xRange()[0];
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    ctx.strokeStyle = kv.css(root, "--kv-strong-line");
    ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
    ctx.beginPath();
    for (var s = 0; s <= steps; s++) {
      var v = logScale ? lo * Math.pow(1 / lo, s / steps) : s;
      var x = u.valToPos(v, "x", true), y = u.valToPos(v, "y", true);
      if (s) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    }
    ctx.stroke();
    ctx.restore();
  }
  /* The point nearest the pointer, in screen distance, over the curves shown. */
  function pointer(u) {
    var left = u.cursor.left, top = u.cursor.top;
    if (left === undefined || left < 0) { marker.style.display = "none"; return; }
    var best = null, bestD = Infinity;
    curves.forEach(function (c, ci) {
      if (!shown[ci]) return;
      for (var i = 0; i < c.fpr.length; i++) {
        var x = logScale ? Math.max(c.fpr[i], floor) : c.fpr[i];
        var dx = u.valToPos(x, "x") - left, dy = u.valToPos(c.tpr[i], "y") - top, d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = [ci, i, x]; }
      }
    });
    if (!best) return;
    var c = curves[best[0]];
    marker.style.left = u.valToPos(best[2], "x") + "px";
    marker.style.top = u.valToPos(c.tpr[best[1]], "y") + "px";
    marker.style.background = kv.palette(root)[best[0] % 6];
    marker.style.display = "block";
    pointerRow.innerHTML = cells(c, best[1], "under the pointer");
  }
  function precision(c, i) {
    if (c.pos === null) return null;
    var tp = c.tpr[i] * c.pos, fp = c.fpr[i] * c.neg;
    return tp + fp > 0 ? tp / (tp + fp) : null;
  }
  function cells(c, i, target) {
    var values = [c.thr[i], c.fpr[i], c.tpr[i], precision(c, i)];
    return '<th scope="row" class="kv-text">' + kv.esc(c.name) + '</th><td class="kv-text">' + target + "</td>" +
      values.map(function (v) { return "<td>" + kv.fmt(v) + "</td>"; }).join("");
  }
  /* The operating point for a target FPR: the last point whose FPR does not exceed it
     (the highest TPR within that false-positive budget). */
  function atFpr(c, target) {
    var found = 0;
    for (var i = 0; i < c.fpr.length && c.fpr[i] <= target; i++) found = i;
    return found;
  }
  function targets() {
    return targetsBox.value.split(/[\s,;]+/).map(parseFloat).filter(function (v) {
      return isFinite(v) && v >= 0 && v <= 1;
    });
  }
  function operatingPoints() {
    var html = "";
    targets().forEach(function (target) {
      curves.forEach(function (c, ci) {
        if (shown[ci]) html += '<tr class="kv-op">' + cells(c, atFpr(c, target), "FPR \u2264 " + target) + "</tr>";
      });
    });
    opsBody.innerHTML = html + '<tr class="kv-under"><td class="kv-text" colspan="6">Point at a curve to see its values here.</td></tr>';
    pointerRow = opsBody.querySelector(".kv-under");
  }
  root.querySelectorAll(".kv-legend button").forEach(function (button) {
    button.addEventListener("click", function () {
      var i = parseInt(button.getAttribute("data-curve"), 10);
      shown[i] = !shown[i];
      button.setAttribute("aria-pressed", String(shown[i]));
      plot.setSeries(i + 1, {show: shown[i]});
      operatingPoints();
    });
  });
  logBox.addEventListener("change", function () { logScale = logBox.checked; build(); });
  root.querySelector(".kv-reset").addEventListener("click", resetZoom);
  targetsBox.addEventListener("change", operatingPoints);
  if (window.ResizeObserver) {
    var lastWidth = 0;
    new ResizeObserver(function () {
      var s = size();
      if (plot && s.width !== lastWidth) { lastWidth = s.width; plot.setSize(s); }
    }).observe(box);
  }
  kv.onScheme(build);
  operatingPoints();
  build();
})(document.currentScript.parentNode);
