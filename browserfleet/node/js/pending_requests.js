// Counts the page's fetch() and XMLHttpRequest calls still waiting for a response, so a render's
// default load strategy knows at once whether the page is still fetching data. Installed as an
// init script. window.__bfSettle(quietMs, capMs) resolves with the milliseconds it waited once no
// request is pending and none ended in the last quietMs (at once when none was ever pending);
// window.__bfCapture(quietMs, capMs) does the same and then returns the serialized document and its
// title (and the document's URL); window.__bfSerialize() returns them at once (one round trip, no
// helper script injected).
(() => {
  if (window.__bfSettle) return;
  let pending = 0;
  let lastEnd = -Infinity;
  const done = () => { pending = Math.max(0, pending - 1); lastEnd = performance.now(); };
  const hidden = (name, value) => Object.defineProperty(window, name, { value, enumerable: false });

  hidden('__bfSettle', (quietMs, capMs) => new Promise((resolve) => {
    const start = performance.now();
    const check = () => {
      const now = performance.now();
      const quiet = pending === 0 && now - lastEnd >= quietMs;
      if (quiet || now - start >= capMs) resolve(Math.round(now - start)); else setTimeout(check, 10);
    };
    check();
  }));
  hidden('__bfSerialize', () => {
    const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '';
    const root = document.documentElement ? document.documentElement.outerHTML : '';
    return { html: doctype + root, title: document.title, url: location.href };
  });
  hidden('__bfCapture', async (quietMs, capMs) => {
    const settleMs = await window.__bfSettle(quietMs, capMs);
    return { settleMs, ...window.__bfSerialize() };
  });

  const originalFetch = window.fetch;
  if (originalFetch) {
    window.fetch = function fetch(...args) {
      pending += 1;
      try {
        const promise = originalFetch.apply(this, args);
        // done once the body has fully arrived (the page's own .json() resolves about then)
        promise.then((response) => response.clone().arrayBuffer().then(done, done), done);
        return promise;
      } catch (error) { done(); throw error; }
    };
  }
  // not named `send` inside: a named function expression would call itself
  const originalSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function send(...args) {
    pending += 1;
    this.addEventListener('loadend', done, { once: true });
    try { return originalSend.apply(this, args); } catch (error) { done(); throw error; }
  };
})();
