/* What the progress pages share (the live page, the comparison, the snapshot and the run list):
   building elements, clock times and durations, and the server's routes. */
var kfpViz = (function () {
  "use strict";
  function el(tag, cls, parent, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function duration(seconds) {
    var s = Math.max(0, seconds);
    if (s < 9.95) return s.toFixed(1) + " s";
    s = Math.round(s);
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min" + (s - 60 * m ? " " + (s - 60 * m) + " s" : "");
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }
  function pad(n, width) { return String(n).padStart(width || 2, "0"); }
  function clockTime(ts, ms) {
    var d = new Date(ts * 1000);
    var text = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    return ms ? text + "." + pad(d.getMilliseconds(), 3) : text;
  }
  /* The page's routes (server/progress/urls.py: relative to the page, so it works under any
     path prefix, or under PUBLIC_URL); `{run}` stands for a run id. */
  function route(urls, name, id) { return urls[name].replace("{run}", encodeURIComponent(id || "")); }
  /* GET a JSON route: [status, body] ({} when the body is not JSON). */
  function getJson(url) {
    return fetch(url, {headers: {Accept: "application/json"}, cache: "no-store"}).then(function (reply) {
      return reply.json().catch(function () { return {}; }).then(function (body) { return [reply.status, body]; });
    });
  }
  return {el: el, duration: duration, pad: pad, clockTime: clockTime, route: route, getJson: getJson};
})();
