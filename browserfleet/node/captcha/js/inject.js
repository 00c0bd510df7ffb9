// Puts a solved token where the widget's page reads it: the response fields (created in the
// widget's form when missing) and the widget API's getResponse/execute. Returns the number of fields.
({type, sitekey, token}) => {
  const SELECTORS = {recaptcha_v2: '.g-recaptcha', recaptcha_v3: '.g-recaptcha', hcaptcha: '.h-captcha', turnstile: '.cf-turnstile'};
  const all = Array.from(document.querySelectorAll(`${SELECTORS[type]}[data-sitekey]`));
  const widget = all.find((el) => el.getAttribute('data-sitekey') === sitekey) || all[0] || null;
  const home = (widget && (widget.closest('form') || widget.parentElement)) || document.querySelector('form') || document.body;
  const fill = (name, tag) => {
    const fields = Array.from(document.querySelectorAll(`textarea[name="${name}"], input[name="${name}"]`));
    if (!fields.length) {
      const el = document.createElement(tag);
      el.name = name;
      if (tag === 'input') el.type = 'hidden'; else el.style.display = 'none';
      if (!document.getElementById(name)) el.id = name;
      home.appendChild(el);
      fields.push(el);
    }
    for (const el of fields) {
      if (el.tagName === 'TEXTAREA') el.textContent = token; else el.setAttribute('value', token);
      el.value = token;
      el.dispatchEvent(new Event('input', {bubbles: true}));
      el.dispatchEvent(new Event('change', {bubbles: true}));
    }
    return fields.length;
  };
  let count = 0;
  if (type === 'turnstile') {
    count += fill('cf-turnstile-response', 'input');
  } else {
    if (type === 'hcaptcha') count += fill('h-captcha-response', 'textarea');
    count += fill('g-recaptcha-response', 'textarea');
  }
  const api = {recaptcha_v2: window.grecaptcha, recaptcha_v3: window.grecaptcha, hcaptcha: window.hcaptcha, turnstile: window.turnstile}[type];
  const patch = (obj) => {
    if (!obj || typeof obj !== 'object') return;
    try {
      obj.getResponse = () => token;
      if (type === 'recaptcha_v3') obj.execute = () => Promise.resolve(token);
    } catch (e) { /* frozen API object: the fields still carry the token */ }
  };
  patch(api);
  if (api && type.startsWith('recaptcha')) patch(api.enterprise);
  return count;
}
