// Calls the page's callbacks for a solved widget: its data-callback, else the callbacks the
// widget API registered (reCAPTCHA keeps them in ___grecaptcha_cfg). Returns how many were called.
({type, sitekey, token}) => {
  const SELECTORS = {recaptcha_v2: '.g-recaptcha', recaptcha_v3: '.g-recaptcha', hcaptcha: '.h-captcha', turnstile: '.cf-turnstile'};
  const all = Array.from(document.querySelectorAll(`${SELECTORS[type]}[data-sitekey]`));
  const widget = all.find((el) => el.getAttribute('data-sitekey') === sitekey) || all[0] || null;
  const named = (name) => {
    let fn = window;
    for (const part of String(name).split('.')) fn = fn == null ? undefined : fn[part];
    return typeof fn === 'function' ? fn : null;
  };
  const registered = () => {
    const cfg = window.___grecaptcha_cfg;
    const out = [];
    const walk = (obj, depth) => {
      if (!obj || typeof obj !== 'object' || depth > 6 || (typeof Node !== 'undefined' && obj instanceof Node)) return;
      for (const key of Object.keys(obj)) {
        let value;
        try { value = obj[key]; } catch (e) { continue; }
        if (key === 'callback' && 'sitekey' in obj && (!sitekey || obj.sitekey === sitekey)) {
          const fn = typeof value === 'function' ? value : named(value);
          if (fn && !out.includes(fn)) out.push(fn);
        } else if (value && typeof value === 'object' && value !== window) {
          walk(value, depth + 1);
        }
      }
    };
    if (type.startsWith('recaptcha') && cfg && cfg.clients) Object.values(cfg.clients).forEach((c) => walk(c, 0));
    return out;
  };
  const fromAttr = widget && widget.getAttribute('data-callback');
  const callbacks = fromAttr && named(fromAttr) ? [named(fromAttr)] : registered();
  let called = 0;
  for (const fn of callbacks) {
    try { fn(token); called += 1; } catch (e) { /* the page's own error; the token is in place */ }
  }
  return called;
}
