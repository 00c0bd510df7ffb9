// Returns {type, sitekey} for the first captcha widget in this frame, or null.
(() => {
  const key = (sel) => { const el = document.querySelector(sel); return el && el.getAttribute('data-sitekey'); };
  const param = (src, name) => { try { return new URL(src, location.href).searchParams.get(name); } catch (e) { return null; } };
  const frames = Array.from(document.querySelectorAll('iframe[src]')).map((f) => f.getAttribute('src'));
  const scripts = Array.from(document.querySelectorAll('script[src]')).map((s) => s.getAttribute('src'));
  let k;
  if ((k = key('.cf-turnstile[data-sitekey]'))) return {type: 'turnstile', sitekey: k};
  if ((k = key('.h-captcha[data-sitekey]'))) return {type: 'hcaptcha', sitekey: k};
  if ((k = key('.g-recaptcha[data-sitekey]'))) return {type: 'recaptcha_v2', sitekey: k};
  for (const src of frames) {
    if (/challenges\.cloudflare\.com/.test(src)) return {type: 'turnstile', sitekey: param(src, 'sitekey')};
    if (/hcaptcha\.com/.test(src)) return {type: 'hcaptcha', sitekey: param(src, 'sitekey')};
    if (/recaptcha\/(api2|enterprise)\/anchor/.test(src)) return {type: 'recaptcha_v2', sitekey: param(src, 'k')};
  }
  for (const src of scripts) {
    const render = /recaptcha\/(api|enterprise)\.js/.test(src) && param(src, 'render');
    if (render && render !== 'explicit') return {type: 'recaptcha_v3', sitekey: render};
  }
  return null;
})
