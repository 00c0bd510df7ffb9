// Test-site helper for the captcha fixtures (the part a real site does with its own backend).
// bfVerify posts the form, with its captcha response field, to the server-side check and shows
// the answer in #verified ("ok" / "rejected"), here and in the parent page when framed.
// The tag `t` (query string of this page, or of the parent page when framed) lets a test count
// verifications: GET /captcha/verified?t=...
(() => {
  const framed = window.parent !== window;
  const show = (id, text) => {
    for (const doc of framed ? [document, window.parent.document] : [document]) {
      const el = doc.getElementById(id);
      if (el) el.textContent = text;
    }
  };
  window.bfVerify = async (kind, form) => {
    const tag = new URLSearchParams(location.search || (framed ? window.parent.location.search : '')).get('t') || '';
    try {
      const url = `/captcha/verify?kind=${encodeURIComponent(kind)}&t=${encodeURIComponent(tag)}`;
      const answer = await (await fetch(url, {method: 'POST', body: new URLSearchParams(new FormData(form))})).json();
      show('verified', answer.ok ? 'ok' : 'rejected');
    } catch (e) {
      show('verified', 'error');
    }
  };
  // A widget's data-callback: record the call, then verify what the form now carries.
  window.bfCallback = (kind) => (token) => {
    show('callback-called', token ? 'yes' : 'empty');
    return window.bfVerify(kind, document.getElementById('login-form'));
  };
  // Submitting the form verifies it too (without leaving the page).
  window.bfOnSubmit = (kind, before) => {
    document.getElementById('login-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      if (before) await before(event.target);
      await window.bfVerify(kind, event.target);
    });
  };
})();
