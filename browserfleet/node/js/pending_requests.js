// Counts the page's fetch() and XMLHttpRequest calls still waiting for a response, so a render's
// default load strategy knows at once whether the page is still fetching data. Installed as an
// init script; read with window.__bfPending().
(() => {
  if (window.__bfPending) return;
  let pending = 0;
  const done = () => { pending = Math.max(0, pending - 1); };
  Object.defineProperty(window, '__bfPending', { value: () => pending, enumerable: false });
  const originalFetch = window.fetch;
  if (originalFetch) {
    window.fetch = function fetch(...args) {
      pending += 1;
      try {
        const promise = originalFetch.apply(this, args);
        promise.then(done, done);
        return promise;
      } catch (error) { done(); throw error; }
    };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function send(...args) {
    pending += 1;
    this.addEventListener('loadend', done, { once: true });
    try { return send.apply(this, args); } catch (error) { done(); throw error; }
  };
})();
