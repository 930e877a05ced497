/* tfdv: features as row groups (a line per dataset) with each dataset's distribution,
   overlaid or side by side: numeric ones on a linear, log or quantile scale (per feature,
   or for all at once), with their bucket ranges printed and listed; categorical ones as
   labelled bars. Drift and skew flags under each feature's name; sort by missing, zeros,
   flags or distance; search by name. */
(function (root) {
  "use strict";
  var kv = window.kvViz, data = kv.data(root), datasets = data.datasets;
  var box = root.querySelector(".kv-features"), search = root.querySelector(".kv-search");
  var order = root.querySelector(".kv-order"), count = root.querySelector(".kv-count");
  var scaleAll = root.querySelector(".kv-scale-all"), flaggedOnly = root.querySelector(".kv-flagged-only");
  var view = "overlay", W = 220, H = 48, CLASSES = ["a", "b", "c", "d"], SHOWN_VALUES = 6;
  var chosenScale = {};  /* feature name -> the scale its own switch chose */
  var byName = {};
  data.features.forEach(function (f) { byName[f.name] = f; });

  function pct(v) { return kv.pct(v); }
  function most(f, key) {
    var best = -1;
    (f.stats || []).forEach(function (s) { if (s && s[key] !== null && s[key] !== undefined) best = Math.max(best, s[key]); });
    return best;
  }
  function flagCount(f) { return (f.flags || []).length; }
  var sorts = {
    order: null,
    name: function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; },
    missing: function (a, b) { return most(b, "missing") - most(a, "missing"); },
    zeros: function (a, b) { return most(b, "zeros") - most(a, "zeros"); },
    flags: function (a, b) { return flagCount(b) - flagCount(a) || distance(b) - distance(a); },
    distance: function (a, b) { return distance(b) - distance(a); },
  };
  function distance(f) { return f.distance === null || f.distance === undefined ? -1 : f.distance; }
  function scaleOf(f) {
    if (chosenScale[f.name]) return chosenScale[f.name];
    var all = scaleAll.value;
    if (all === "auto") return f.scale;
    if (all === "log" && !(f.log_edges || []).length) return "linear";
    return all;
  }
  function grid(f, scale) {
    return scale === "log" ? {edges: f.log_edges, shares: f.log_shares} : {edges: f.edges, shares: f.shares};
  }
  function bucketStep(edges) {
    var least = Infinity;
    for (var i = 1; i < edges.length; i++) if (edges[i] > edges[i - 1]) least = Math.min(least, edges[i] - edges[i - 1]);
    return least;
  }
  function bucketLabel(edges, i) { return kv.range(edges[i], edges[i + 1], bucketStep(edges.slice(i, i + 2))); }
  /* Bars: each dataset's shares per bucket, overlaid (translucent, full width) or side by
     side (each bucket split between the datasets). */
  function bars(shares, n, label) {
    var top = 0, k = shares.length;
    shares.forEach(function (s) { (s || []).forEach(function (v) { top = Math.max(top, v); }); });
    top = top || 1;
    var step = W / n, parts = [];
    shares.forEach(function (s, d) {
      if (!s) return;
      var width = view === "side" ? step / k : step, offset = view === "side" ? d * width : 0;
      s.forEach(function (v, i) {
        var h = Math.max(v > 0 ? 1 : 0, v / top * (H - 2));
        parts.push('<rect class="' + CLASSES[d % 4] + '" x="' + (i * step + offset + 0.5).toFixed(1) + '" y="' +
          (H - h).toFixed(1) + '" width="' + Math.max(width - 1, 0.5).toFixed(1) + '" height="' + h.toFixed(1) +
          '"><title>' + kv.esc(datasets[d].name + ": " + label(i) + ": " + pct(v)) + "</title></rect>");
      });
    });
    return parts.join("");
  }
  function svg(f, inner, what) {
    return '<svg class="kv-hist' + (view === "overlay" ? " kv-overlay" : "") + '" width="' + W + '" height="' + H +
      '" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + kv.esc(what + " of " + f.name) + '">' + inner + "</svg>";
  }
  /* Each dataset's deciles on one axis (log when the feature is skewed): ticks at each
     tenth of the values, the median longer, the middle 80% as a line. */
  function quantileChart(f) {
    var log = f.scale === "log", t = log ? function (v) { return Math.sign(v) * Math.log10(1 + Math.abs(v)); } : function (v) { return v; };
    var lo = Infinity, hi = -Infinity;
    f.quantiles.forEach(function (q) { if (q) { lo = Math.min(lo, t(q[0])); hi = Math.max(hi, t(q[10])); } });
    if (!(hi > lo)) hi = lo + 1;
    var x = function (v) { return 4 + (t(v) - lo) / (hi - lo) * (W - 8); }, rows = f.quantiles.length, parts = [];
    f.quantiles.forEach(function (q, d) {
      if (!q) return;
      var y = (d + 0.5) * H / rows;
      parts.push('<line class="kv-q ' + CLASSES[d % 4] + '" x1="' + x(q[1]).toFixed(1) + '" x2="' + x(q[9]).toFixed(1) +
        '" y1="' + y.toFixed(1) + '" y2="' + y.toFixed(1) + '"></line>');
      q.forEach(function (v, i) {
        var half = i === 5 ? 8 : (i === 0 || i === 10 ? 3 : 5);
        parts.push('<line class="kv-q ' + CLASSES[d % 4] + '" x1="' + x(v).toFixed(1) + '" x2="' + x(v).toFixed(1) +
          '" y1="' + (y - half).toFixed(1) + '" y2="' + (y + half).toFixed(1) + '"><title>' +
          kv.esc(datasets[d].name + ": " + (i * 10) + "% at " + kv.fmt(v)) + "</title></line>");
      });
    });
    return svg(f, parts.join(""), "Deciles" + (log ? " (log scale)" : ""));
  }
  function numericChart(f) {
    var scale = scaleOf(f), select = '<select class="kv-scale" data-feature="' + kv.esc(f.name) + '" aria-label="' +
      kv.esc("Scale of " + f.name) + '">' + [["linear", "linear"], ["log", "log"], ["quantile", "quantiles"]].filter(function (o) {
        return o[0] !== "log" || (f.log_edges || []).length;
      }).map(function (o) {
        return '<option value="' + o[0] + '"' + (o[0] === scale ? " selected" : "") + ">" + o[1] + "</option>";
      }).join("") + "</select>";
    var chart, ends, details = "";
    if (scale === "quantile") {
      if (!f.quantiles.some(function (q) { return q; })) return select;
      chart = quantileChart(f);
      var first = f.quantiles.filter(function (q) { return q; })[0];
      ends = "min " + kv.fmt(first[0]) + " \u00B7 median " + kv.fmt(first[5]) + " \u00B7 max " + kv.fmt(first[10]);
      details = "deciles";
    } else {
      var g = grid(f, scale), n = Math.max(0, (g.edges || []).length - 1);
      if (!n) return select;
      chart = svg(f, bars(g.shares || [], n, function (i) { return bucketLabel(g.edges, i); }),
        "Histogram" + (scale === "log" ? " (log scale)" : ""));
      ends = kv.range(g.edges[0], g.edges[n]) + (scale === "log" ? " (log scale)" : "");
      details = "buckets";
    }
    return '<div class="kv-chartcell">' + chart + '<div class="kv-edges">' + ends + "</div>" + select +
      ' <details class="kv-buckets" data-feature="' + kv.esc(f.name) + '"><summary>' + details + "</summary></details></div>";
  }
  /* The table a keyboard (or a screen reader) reads instead of hovering: each bucket's range
     and every dataset's share of it; or each dataset's deciles. */
  function bucketTable(f) {
    var scale = scaleOf(f), head = datasets.map(function (d) { return '<th scope="col">' + kv.esc(d.name) + "</th>"; }).join("");
    if (scale === "quantile") {
      var body = "";
      for (var i = 0; i <= 10; i++) {
        body += '<tr><th scope="row" class="kv-text">' + (i * 10) + "%</th>" + f.quantiles.map(function (q) {
          return "<td>" + (q ? kv.fmt(q[i]) : "\u2014") + "</td>";
        }).join("") + "</tr>";
      }
      return '<table class="kv-mini"><thead><tr><th scope="col" class="kv-text">share of values at or under</th>' + head + "</tr></thead><tbody>" + body + "</tbody></table>";
    }
    var g = grid(f, scale), rows = "";
    for (var b = 0; b < g.edges.length - 1; b++) {
      rows += '<tr><th scope="row" class="kv-text">' + bucketLabel(g.edges, b) + "</th>" + g.shares.map(function (s) {
        return "<td>" + (s ? pct(s[b]) : "\u2014") + "</td>";
      }).join("") + "</tr>";
    }
    return '<table class="kv-mini"><thead><tr><th scope="col" class="kv-text">range</th>' + head + "</tr></thead><tbody>" + rows + "</tbody></table>";
  }
  /* Categorical values as labelled bars: the top values, each with every dataset's share. */
  function categoricalChart(f) {
    var labels = f.labels || [], top = 0;
    if (!labels.length) return "";
    f.shares.forEach(function (s) { (s || []).forEach(function (v) { top = Math.max(top, v); }); });
    top = top || 1;
    var rows = labels.slice(0, SHOWN_VALUES).map(function (label, i) {
      var fills = f.shares.map(function (s, d) {
        return s ? '<span class="kv-catbar ' + CLASSES[d % 4] + '" style="width:' + (100 * s[i] / top).toFixed(1) + '%"></span>' : "";
      }).join("");
      var shares = f.shares.map(function (s) { return s ? pct(s[i]) : "\u2014"; }).join(" / ");
      return '<li><span class="kv-catlabel">' + kv.esc(label) + '</span><span class="kv-catshare">' + shares +
        '</span><span class="kv-catbars">' + fills + "</span></li>";
    }).join("");
    var more = labels.length > SHOWN_VALUES ? '<li class="kv-note">and ' + (labels.length - SHOWN_VALUES) + " more of the top values</li>" : "";
    return '<ul class="kv-cats" aria-label="' + kv.esc("Top values of " + f.name + (datasets.length > 1 ? ", shares per dataset: " +
      datasets.map(function (d) { return d.name; }).join(" / ") : "")) + '">' + rows + more + "</ul>";
  }
  function flagText(flag) {
    var where = datasets[flag.dataset] ? " in " + datasets[flag.dataset].name : "";
    if (flag.kind === "new") {
      return "new value" + (flag.count > 1 ? "s" : "") + where + ": " + flag.values.map(function (v) { return "\u201C" + v + "\u201D"; }).join(", ") +
        (flag.count > flag.values.length ? " and " + (flag.count - flag.values.length) + " more" : "");
    }
    var name = flag.kind === "linf" ? "L\u221E distance " : "Jensen\u2013Shannon ";
    return name + kv.fmt(flag.value, 3) + " > " + kv.fmt(flag.threshold) + where;
  }
  var COLUMNS = {
    num: [["count", "count", kv.fmt], ["missing", "missing", pct], ["mean", "mean", kv.fmt],
          ["std_dev", "std dev", kv.fmt], ["zeros", "zeros", pct], ["min", "min", kv.fmt],
          ["median", "median", kv.fmt], ["max", "max", kv.fmt]],
    str: [["count", "count", kv.fmt], ["missing", "missing", pct], ["unique", "unique", kv.fmt],
          ["top", "top value", kv.esc], ["top_count", "top count", kv.fmt], ["avg_length", "avg length", kv.fmt]],
  };
  function group(f) {
    var columns = COLUMNS[f.kind], rows = "", flags = f.flags || [];
    datasets.forEach(function (d, i) {
      var s = f.stats[i];
      rows += "<tr>";
      if (i === 0) {
        rows += '<th scope="rowgroup" class="kv-text kv-name kv-pin-cell" rowspan="' + datasets.length + '">' + kv.esc(f.name) +
          '<br><span class="kv-note">' + f.type + (f.distance !== null && f.distance !== undefined ?
          ", distance " + kv.fmt(f.distance, 3) : "") + "</span>" +
          flags.map(function (flag) { return '<span class="kv-flag">\u26A0 ' + kv.esc(flagText(flag)) + "</span>"; }).join("") + "</th>";
      }
      if (datasets.length > 1) {
        rows += '<td class="kv-text"><span class="kv-swatch" style="background:var(--kv-s' + (i % 4) + ')"></span>' +
          kv.esc(d.name) + "</td>";
      }
      columns.forEach(function (c) {
        rows += (c[0] === "top" ? '<td class="kv-text">' : "<td>") + (s ? c[2](s[c[0]]) : "\u2014") + "</td>";
      });
      if (i === 0) rows += '<td class="kv-text kv-chart-td" rowspan="' + datasets.length + '">' + (f.kind === "num" ? numericChart(f) : categoricalChart(f)) + "</td>";
      rows += "</tr>";
    });
    return '<tbody class="kv-feature' + (flags.length ? " kv-flagged" : "") + '" data-feature="' + kv.esc(f.name) + '">' + rows + "</tbody>";
  }
  function table(kind, title, features) {
    if (!features.length) return "";
    var head = '<th scope="col" class="kv-text kv-pin-cell">feature</th>' +
      (datasets.length > 1 ? '<th scope="col" class="kv-text">dataset</th>' : "") +
      COLUMNS[kind].map(function (c) { return '<th scope="col"' + (c[0] === "top" ? ' class="kv-text"' : "") + ">" + c[1] + "</th>"; }).join("") +
      '<th scope="col" class="kv-text">' + (kind === "num" ? "distribution" : "top values") + "</th>";
    return '<h4 id="kv-' + kind + '">' + title + " (" + features.length + ')</h4><div class="kv-wrap" tabindex="0" role="region" aria-labelledby="kv-' + kind + '">' +
      '<table class="kv-' + (kind === "num" ? "numeric" : "categorical") + '"><thead><tr>' + head + "</tr></thead>" +
      features.map(group).join("") + "</table></div>";
  }
  function draw() {
    var needle = search.value.trim().toLowerCase(), sort = sorts[order.value];
    var chosen = data.features.filter(function (f) {
      return (!needle || f.name.toLowerCase().indexOf(needle) >= 0) && (!flaggedOnly || !flaggedOnly.checked || flagCount(f));
    });
    if (sort) chosen = chosen.slice().sort(sort);
    var others = chosen.filter(function (f) { return f.kind === "other"; });
    box.innerHTML = table("num", "Numeric features", chosen.filter(function (f) { return f.kind === "num"; })) +
      table("str", "Categorical features", chosen.filter(function (f) { return f.kind === "str"; })) +
      (others.length ? '<p class="kv-note">Other features: ' + others.map(function (f) {
        return kv.esc(f.name) + " (" + f.type + ")";
      }).join(", ") + "</p>" : "");
    count.textContent = chosen.length === data.features.length ? data.features.length + " features"
      : chosen.length + " of " + data.features.length + " features";
    kv.scrollCues(box);
  }
  var timer = null;
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(draw, 120); });
  order.addEventListener("change", draw);
  scaleAll.addEventListener("change", function () { chosenScale = {}; draw(); });
  if (flaggedOnly) flaggedOnly.addEventListener("change", draw);
  box.addEventListener("change", function (event) {
    var select = event.target.closest("select.kv-scale");
    if (!select) return;
    var name = select.getAttribute("data-feature"), f = byName[name];
    chosenScale[name] = select.value;
    var cell = select.closest(".kv-chart-td");
    cell.innerHTML = numericChart(f);
    cell.querySelector("select.kv-scale").focus();
  });
  box.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.classList || !details.classList.contains("kv-buckets") || !details.open) return;
    var f = byName[details.getAttribute("data-feature")];
    if (!details.querySelector("table")) details.insertAdjacentHTML("beforeend", bucketTable(f));
  }, true);
  root.querySelectorAll(".kv-view").forEach(function (button) {
    button.addEventListener("click", function () {
      view = button.getAttribute("data-view");
      root.querySelectorAll(".kv-view").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      draw();
    });
  });
  draw();
})(document.currentScript.parentNode);
