(async () => {
  // The full page travels gzip'd and base64'd in #kfp-viz-payload; the sandboxed
  // frame has no network and no same-origin access, so unpack it here and
  // replace this document with it.
  const status = document.getElementById("kfp-viz-status");
  try {
    const text = atob(document.getElementById("kfp-viz-payload").textContent);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    const html = await new Response(stream).text();
    document.open();
    document.write(html);
    document.close();
  } catch (error) {
    status.textContent = "This browser could not unpack the page here (" + error +
      "); open the stored page with a link below.";
  }
})();
