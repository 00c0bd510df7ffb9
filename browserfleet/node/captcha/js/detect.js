// Returns every captcha widget in this frame, in priority order, as [{type, sitekey, action}].
(() => {
  const found = [];
  const seen = new Set();
  const add = (type, sitekey, action) => {
    const id = `${type}|${sitekey}`;
    if (seen.has(id)) return;
    seen.add(id);
    found.push({type, sitekey: sitekey || null, action: action || null});
  };
  const param = (src, name) => { try { return new URL(src, location.href).searchParams.get(name); } catch (e) { return null; } };
  const frames = Array.from(document.querySelectorAll('iframe[src]')).map((f) => f.getAttribute('src'));
  const scripts = Array.from(document.querySelectorAll('script[src]')).map((s) => s.getAttribute('src'));
  // reCAPTCHA v3 loads api.js?render=<sitekey>; an element bound to that key is v3 too.
  const v3keys = new Set();
  for (const src of scripts) {
    const render = /recaptcha\/(api|enterprise)\.js/.test(src) && param(src, 'render');
    if (render && render !== 'explicit') v3keys.add(render);
  }
  const widgets = (sel, type) => document.querySelectorAll(sel).forEach((el) => {
    const key = el.getAttribute('data-sitekey');
    add(type === 'recaptcha_v2' && v3keys.has(key) ? 'recaptcha_v3' : type, key, el.getAttribute('data-action'));
  });
  widgets('.cf-turnstile[data-sitekey]', 'turnstile');
  widgets('.h-captcha[data-sitekey]', 'hcaptcha');
  widgets('.g-recaptcha[data-sitekey]', 'recaptcha_v2');
  for (const src of frames) {
    if (/challenges\.cloudflare\.com/.test(src)) add('turnstile', param(src, 'sitekey'));
    else if (/hcaptcha\.com/.test(src)) add('hcaptcha', param(src, 'sitekey'));
    else if (/recaptcha\/(api2|enterprise)\/anchor/.test(src)) add('recaptcha_v2', param(src, 'k'));
  }
  for (const key of v3keys) add('recaptcha_v3', key);
  return found;
})
