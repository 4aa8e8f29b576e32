// Helpers the web app's modules share: the DOM, messages, the REST
// errors, the connection indicator.

export const $ = (id) => document.getElementById(id);

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    let msg = e.message || `HTTP ${status}`;
    if (e.details) msg += ': ' + Object.entries(e.details).map(([k, v]) => `${k} ${v}`).join('; ');
    super(msg);
    this.status = status;
    this.code = e.code;
  }
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) e.append(c);
  return e;
}

export const SECTIONS = ['loading', 'login', 'picker', 'table-view'];
export function show(id) {
  for (const s of SECTIONS) $(s).hidden = s !== id;
}

let toastTimer = null;
export function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

/** A colour per user, the same on every screen. */
export function userColor(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} 70% 42%)`;
}

// ---- connection indicator ----

export function indicate(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  $('conn-text').textContent = text;
}
