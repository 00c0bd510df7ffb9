// Offline stand-in for Google's reCAPTCHA api.js (render=<sitekey>, v3): execute() resolves a
// token that no solver made, so the site's server-side check rejects it until a real token is
// injected.
window.grecaptcha = window.grecaptcha || {
  ready(callback) { callback(); },
  execute(sitekey, options) { return Promise.resolve('offline-unsolved-token'); },
  getResponse() { return ''; },
};
