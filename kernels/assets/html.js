/* html: size the document's frame to its content. The frame is sandboxed (an opaque
   origin), so its size cannot be read from here: the document posts its height (a script
   the type appends to it), and only messages from this frame are believed. */
(function (root) {
  "use strict";
  var frame = root.querySelector("iframe.kv-html");
  window.addEventListener("message", function (event) {
    var height = event.data && event.data.kfpVizHeight;
    if (event.source !== frame.contentWindow || typeof height !== "number" || !isFinite(height)) return;
    frame.style.height = Math.min(Math.max(Math.ceil(height), 20), 200000) + "px";
  });
})(document.currentScript.parentNode);
