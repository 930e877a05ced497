/* roc_curve: ROC curves and, beside them, precision–recall curves, drawn with uPlot in square
   plot areas: box zoom (double-click resets), a log-scaled FPR option, a legend that hides
   curves, rings on the curves at the table's operating points, and the operating-point
   table (the point at or under each chosen FPR, and the point under the pointer). */
(function (root) {
  "use strict";
  var kv = window.kvViz, data = kv.data(root), curves = data.curves;
  var logBox = root.querySelector(".kv-log"), targetsBox = root.querySelector(".kv-targets");
  var opsBody = root.querySelector(".kv-ops tbody"), pointerRow = null;
  var shown = curves.map(function () { return true; });
  var logScale = false, floor = logFloor(), MAX_SIDE = 520;
  /* The two views: ROC (x FPR, y TPR) and precision–recall (x recall, y precision). */
  var views = [
    {kind: "roc", x: function (c) { return c.fpr; }, y: function (c) { return c.tpr; },
     xLabel: function () { return logScale ? "False positive rate (log scale)" : "False positive rate"; },
     yLabel: "True positive rate", has: function () { return true; }},
    {kind: "pr", x: function (c) { return c.pr.recall; }, y: function (c) { return c.pr.precision; },
     xLabel: function () { return "Recall (true positive rate)"; }, yLabel: "Precision",
     has: function (c) { return !!c.pr; }},
  ].filter(function (v) { return root.querySelector('.kv-plot[data-kind="' + v.kind + '"]'); });
  views.forEach(function (v) {
    v.box = root.querySelector('.kv-plot[data-kind="' + v.kind + '"]');
    v.marker = v.box.querySelector(".kv-marker");
    v.plot = null;
    v.log = function () { return v.kind === "roc" && logScale; };
  });

  /* Where FPR 0 goes on the log axis: the power of ten at or below half the smallest
     non-zero FPR (a whole decade keeps uPlot's log ticks well-formed). */
  function logFloor() {
    var least = 1;
    curves.forEach(function (c) { c.fpr.forEach(function (v) { if (v > 0 && v < least) least = v; }); });
    return Math.pow(10, Math.floor(Math.log10(least / 2)));
  }
  function xOf(view, value) { return view.log() ? Math.max(value, floor) : value; }
  /* uPlot wants one ascending x array: the curves' points are merged by (x, y), each curve
     holding values at its own points and nulls elsewhere (gaps are spanned). */
  function aligned(view) {
    var points = [];
    curves.forEach(function (c, ci) {
      if (!view.has(c)) return;
      var xs = view.x(c), ys = view.y(c);
      for (var i = 0; i < xs.length; i++) points.push([xs[i], ys[i], ci, i]);
    });
    points.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3]; });
    var xs = [], series = curves.map(function () { return []; });
    points.forEach(function (p) {
      xs.push(xOf(view, p[0]));
      for (var ci = 0; ci < curves.length; ci++) series[ci].push(ci === p[2] ? p[1] : null);
    });
    return [xs].concat(series);
  }
  /* Each plot is at most MAX_SIDE wide; two sit side by side when the frame has room. */
  function side(view) {
    return Math.max(200, Math.min(MAX_SIDE, Math.floor(view.box.parentNode.clientWidth)));
  }
  function xRange(view) { return view.log() ? [floor, 1] : [0, 1]; }
  function build(view) {
    if (view.plot) view.plot.destroy();
    var colours = kv.palette(root), fg = kv.css(root, "--kv-muted"), grid = kv.css(root, "--kv-grid");
    var axis = function (label) {
      return {label: label, stroke: fg, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1},
              font: "11px system-ui, sans-serif", labelFont: "12px system-ui, sans-serif"};
    };
    var width = side(view);
    var opts = {
      width: width, height: width,
      legend: {show: false},
      scales: {
        x: {time: false, auto: false, range: within(xRange(view)), distr: view.log() ? 3 : 1, log: 10},
        y: {auto: false, range: within([0, 1])},
      },
      axes: [Object.assign(axis(view.xLabel()), view.log() ? {splits: logSplits, values: logValues} : {}),
             axis(view.yLabel)],
      series: [{}].concat(curves.map(function (c, i) {
        return {label: c.name, stroke: colours[i % colours.length], width: 2, spanGaps: true,
                points: {show: false}, show: shown[i] && view.has(c)};
      })),
      cursor: {
        points: {show: false}, x: false, y: false,
        drag: {x: true, y: true, setScale: true},
        bind: {dblclick: function () {
          return function (event) { if (event.button === 0) resetZoom(); };
        }},
      },
      hooks: {setCursor: [function (u) { pointer(view, u); }],
              draw: [function (u) { chance(view, u); marks(view, u); square(view); }],
              setScale: [function (u, key) { showScale(view, u, key); }]},
    };
    view.squaring = 0;
    view.plot = new uPlot(opts, aligned(view), view.box.querySelector(".kv-canvas"));
    view.plot.over.appendChild(view.marker);
  }
  /* Make the plotting area square once drawn (the axes take different room across and
     down, known only after layout): the canvas is made taller or shorter by the
     difference, a few times at most (axis labels may change size with it). */
  function square(view) {
    var u = view.plot, ratio = window.devicePixelRatio || 1;
    if (!u) return;
    var extra = Math.round((u.bbox.width - u.bbox.height) / ratio);
    view.box.setAttribute("data-area", Math.round(u.bbox.width / ratio) + "x" + Math.round(u.bbox.height / ratio));
    if (extra && view.squaring < 4) {
      view.squaring++;
      Promise.resolve().then(function () { u.setSize({width: u.width, height: u.height + extra}); });
    }
  }
  /* The visible ranges, on the plot's element: what a test (or anyone) can read. */
  function showScale(view, u, key) {
    view.box.setAttribute("data-" + key + "-range", kv.fmt(u.scales[key].min, 6) + " " + kv.fmt(u.scales[key].max, 6));
    view.box.setAttribute("data-scale", view.log() ? "log" : "linear");
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
    views.forEach(function (view) {
      var x = xRange(view);
      view.plot.batch(function () {
        view.plot.setScale("x", {min: x[0], max: x[1]});
        view.plot.setScale("y", {min: 0, max: 1});
      });
    });
  }
  function clipped(u, draw) {
    var ctx = u.ctx;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    draw(ctx);
    ctx.restore();
  }
  /* What a random model gives: the diagonal on ROC; on precision–recall, the share of
     positives (one line per distinct share among the curves shown). */
  function chance(view, u) {
    clipped(u, function (ctx) {
      var ratio = window.devicePixelRatio || 1;
      ctx.strokeStyle = kv.css(root, "--kv-strong-line");
      ctx.setLineDash([4 * ratio, 4 * ratio]);
      ctx.beginPath();
      if (view.kind === "roc") {
        var steps = view.log() ? 64 : 1, lo = xRange(view)[0];
        for (var s = 0; s <= steps; s++) {
          var v = view.log() ? lo * Math.pow(1 / lo, s / steps) : s;
          var x = u.valToPos(v, "x", true), y = u.valToPos(v, "y", true);
          if (s) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        }
      } else {
        var seen = {};
        curves.forEach(function (c, ci) {
          if (!shown[ci] || !c.pr || c.pos === null) return;
          var share = c.pos / (c.pos + c.neg), key = share.toFixed(6);
          if (seen[key]) return;
          seen[key] = true;
          var y = u.valToPos(share, "y", true);
          ctx.moveTo(u.valToPos(0, "x", true), y);
          ctx.lineTo(u.valToPos(1, "x", true), y);
        });
      }
      ctx.stroke();
    });
  }
  /* Rings at the operating points of the table, with the target they answer. */
  function marks(view, u) {
    var colours = kv.palette(root), ratio = window.devicePixelRatio || 1, drawn = [];
    clipped(u, function (ctx) {
      ctx.font = (11 * ratio) + "px system-ui, sans-serif";
      ctx.lineWidth = 2 * ratio;
      targets().forEach(function (target) {
        curves.forEach(function (c, ci) {
          if (!shown[ci] || !view.has(c)) return;
          var i = atFpr(c, target), x, y;
          if (view.kind === "roc") { x = xOf(view, c.fpr[i]); y = c.tpr[i]; }
          else { var p = precision(c, i); if (p === null) return; x = c.tpr[i]; y = p; }
          drawn.push([target, ci, x, y]);
          var px = u.valToPos(x, "x", true), py = u.valToPos(y, "y", true);
          ctx.beginPath();
          ctx.strokeStyle = colours[ci % colours.length];
          ctx.fillStyle = kv.css(root, "--kv-bg");
          ctx.arc(px, py, 5 * ratio, 0, 2 * Math.PI);
          ctx.fill();
          ctx.stroke();
          ctx.fillStyle = kv.css(root, "--kv-fg");
          ctx.fillText("\u2264" + target, px + 8 * ratio, py + 4 * ratio);
        });
      });
    });
    view.box.setAttribute("data-marks", JSON.stringify(drawn));  /* [target, curve, x, y] */
  }
  /* The point nearest the pointer, in screen distance, over the curves shown. */
  function pointer(view, u) {
    var left = u.cursor.left, top = u.cursor.top, marker = view.marker;
    if (left === undefined || left < 0) { marker.style.display = "none"; return; }
    var best = null, bestD = Infinity;
    curves.forEach(function (c, ci) {
      if (!shown[ci] || !view.has(c)) return;
      var xs = view.x(c), ys = view.y(c);
      for (var i = 0; i < xs.length; i++) {
        var x = xOf(view, xs[i]);
        var dx = u.valToPos(x, "x") - left, dy = u.valToPos(ys[i], "y") - top, d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = [ci, i, x, ys[i]]; }
      }
    });
    if (!best) return;
    var c = curves[best[0]];
    marker.style.left = u.valToPos(best[2], "x") + "px";
    marker.style.top = u.valToPos(best[3], "y") + "px";
    marker.style.background = kv.palette(root)[best[0] % 6];
    marker.style.display = "block";
    pointerRow.innerHTML = view.kind === "roc" ? cells(c, best[1], "under the pointer")
      : prCells(c, best[1], "under the pointer");
  }
  function precision(c, i) {
    if (c.pos === null) return null;
    var tp = c.tpr[i] * c.pos, fp = c.fpr[i] * c.neg;
    return tp + fp > 0 ? tp / (tp + fp) : null;
  }
  function row(c, target, values) {
    return '<th scope="row" class="kv-text">' + kv.esc(c.name) + '</th><td class="kv-text">' + target + "</td>" +
      values.map(function (v) { return "<td>" + kv.fmt(v) + "</td>"; }).join("");
  }
  function cells(c, i, target) { return row(c, target, [c.thr[i], c.fpr[i], c.tpr[i], precision(c, i)]); }
  /* A precision–recall point: its false-positive rate follows from the counts. */
  function prCells(c, i, target) {
    var recall = c.pr.recall[i], p = c.pr.precision[i], fpr = null;
    if (c.pos !== null && p > 0) fpr = recall * c.pos * (1 / p - 1) / c.neg;
    return row(c, target, [c.pr.thr[i], fpr, recall, p]);
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
    views.forEach(function (view) { if (view.plot) view.plot.redraw(false); });
  }
  root.querySelectorAll(".kv-legend button").forEach(function (button) {
    button.addEventListener("click", function () {
      var i = parseInt(button.getAttribute("data-curve"), 10);
      shown[i] = !shown[i];
      button.setAttribute("aria-pressed", String(shown[i]));
      views.forEach(function (view) { if (view.has(curves[i])) view.plot.setSeries(i + 1, {show: shown[i]}); });
      operatingPoints();
    });
  });
  logBox.addEventListener("change", function () { logScale = logBox.checked; build(views[0]); });
  root.querySelector(".kv-reset").addEventListener("click", resetZoom);
  targetsBox.addEventListener("change", operatingPoints);
  function buildAll() { views.forEach(build); }
  kv.onScheme(buildAll);
  operatingPoints();
  buildAll();
  if (window.ResizeObserver) {
    views.forEach(function (view) {
      var lastWidth = side(view);
      new ResizeObserver(function () {
        var width = side(view);
        if (width !== lastWidth) { lastWidth = width; build(view); }
      }).observe(view.box.parentNode);
    });
  }
  kv.scrollCues(root);
})(document.currentScript.parentNode);
