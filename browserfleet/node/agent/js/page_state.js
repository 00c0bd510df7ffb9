// The agent's view of a page, computed in one evaluate: the visible text in reading order with
// every visible interactive element inlined as `[N]<tag attrs>text</tag>`. N is stable for the
// life of the element: it is kept in the element's data-bf-idx attribute and the counter lives on
// the window, so an element keeps its index from one step to the next on the same document.
(opts) => {
  const ATTR = opts.attr;
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'META', 'LINK', 'SVG', 'CANVAS']);
  const ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'tab', 'menuitem', 'option', 'switch',
    'textbox', 'combobox', 'searchbox', 'slider', 'spinbutton']);
  const SHOWN_ATTRS = ['type', 'name', 'placeholder', 'aria-label', 'title', 'alt', 'role'];
  let next = window.__bfNextIdx || 1;
  let visited = 0;
  let elements = 0;
  const lines = [];
  let line = '';

  const clean = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const flush = () => {
    const text = clean(line);
    if (text) lines.push(text);
    line = '';
  };

  function interactive(el) {
    const tag = el.tagName;
    if (tag === 'A') return el.hasAttribute('href');
    if (tag === 'INPUT') return el.type !== 'hidden';
    if (tag === 'BUTTON' || tag === 'SELECT' || tag === 'TEXTAREA' || tag === 'SUMMARY') return true;
    const role = el.getAttribute('role');
    if (role && ROLES.has(role)) return true;
    if (el.hasAttribute('onclick') || el.isContentEditable) return true;
    const tabindex = el.getAttribute('tabindex');
    return tabindex !== null && tabindex !== '-1';
  }

  function describe(el, idx) {
    const tag = el.tagName.toLowerCase();
    const attrs = [];
    for (const name of SHOWN_ATTRS) {
      const value = el.getAttribute(name);
      if (value) attrs.push(`${name}="${clean(value).slice(0, 60)}"`);
    }
    if (tag === 'a') {
      const href = el.getAttribute('href') || '';
      attrs.push(`href="${href.slice(0, 100)}"`);
    }
    if (tag === 'input' || tag === 'textarea') {
      if (el.type === 'checkbox' || el.type === 'radio') attrs.push(el.checked ? 'checked' : 'unchecked');
      else if (el.value) attrs.push(`value="${clean(el.value).slice(0, 80)}"`);
    }
    if (el.disabled) attrs.push('disabled');
    let text = clean(el.innerText).slice(0, 120);
    if (tag === 'select') {
      text = Array.from(el.options).map((o) => clean(o.text) + (o.selected ? ' (selected)' : '')).join(' | ').slice(0, 300);
    }
    return `[${idx}]<${tag}${attrs.length ? ' ' + attrs.join(' ') : ''}>${text}</${tag}>`;
  }

  function walk(node) {
    if (visited++ > opts.maxNodes) return;
    if (node.nodeType === Node.TEXT_NODE) {
      line += node.textContent;
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE || SKIP.has(node.tagName)) return;
    const style = getComputedStyle(node);
    if (style.display === 'none' || style.visibility === 'hidden') return;
    const block = !style.display.startsWith('inline') && style.display !== 'contents';
    if (block) flush();
    if (interactive(node)) {
      const box = node.getBoundingClientRect();
      if (box.width > 0 && box.height > 0) {
        let idx = node.getAttribute(ATTR);
        if (!idx) {
          idx = String(next++);
          node.setAttribute(ATTR, idx);
        }
        elements++;
        line += ` ${describe(node, idx)} `;
        if (block) flush();
        return;
      }
    }
    for (const child of node.childNodes) walk(child);
    if (node.shadowRoot) for (const child of node.shadowRoot.childNodes) walk(child);
    if (block) flush();
  }

  if (document.body) walk(document.body);
  flush();
  window.__bfNextIdx = next;
  let text = lines.join('\n');
  const truncated = text.length > opts.maxChars;
  if (truncated) text = text.slice(0, opts.maxChars);
  return {
    url: location.href,
    title: document.title,
    text,
    elements,
    truncated,
    scrollY: Math.round(window.scrollY),
    viewportHeight: window.innerHeight,
    pageHeight: Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0),
  };
}
