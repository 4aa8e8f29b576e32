// The admin dashboard: polls the admin API (/api/ws/stats and
// /api/ws/channels) once a second with the API key kept in this tab's
// sessionStorage, and draws messages in/out per second on a canvas. The
// webhooks (/api/ws/webhooks) are read every fifth poll and after each
// action; their dead letters when a webhook's are opened.

const KEY = 'tablecast.apiKey';
const POLL_MS = 1000;
const SAMPLES = 120;
const $ = (id) => document.getElementById(id);

let apiKey = null;
let timer = null;
let prev = null; // {t, in, out}
const series = []; // {in, out} per second, oldest first

class KeyRefused extends Error {}

async function get(path, method = 'GET') {
  const res = await fetch(path, { method, headers: { Authorization: `Bearer ${apiKey}` }, cache: 'no-store' });
  if (res.status === 401) throw new KeyRefused('The server refused this key.');
  if (res.status === 404) throw new KeyRefused('The admin API is off on this server (no TABLECAST_API_KEY).');
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

function live(state, text) {
  $('live').dataset.state = state;
  $('live-text').textContent = text;
}

function fmtInt(n) { return Number(n || 0).toLocaleString('en-US'); }
function fmtRate(n) { return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1); }
function fmtBytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}
function fmtUptime(s) {
  s = Math.floor(s || 0);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

function row(cells) {
  const tr = document.createElement('tr');
  cells.forEach((c, i) => {
    const td = document.createElement('td');
    td.textContent = c;
    if (i > 0) td.className = 'n';
    tr.append(td);
  });
  return tr;
}

function showStats(s, channels) {
  $('s-connections').textContent = fmtInt(s.connections);
  $('s-users').textContent = fmtInt(s.users);
  $('s-channels').textContent = fmtInt(s.channels);
  $('s-subscriptions').textContent = fmtInt(s.subscriptions);
  $('s-bytes').textContent = fmtBytes(s.bytes_out || 0);
  $('s-dropped').textContent = fmtInt(s.dropped_slow);
  $('s-uptime').textContent = fmtUptime(s.uptime_s);

  const now = performance.now();
  if (prev) {
    const dt = (now - prev.t) / 1000;
    if (dt > 0) {
      // A restarted server starts its counters again: no negative rates.
      const inRate = Math.max(0, (s.messages_in - prev.in) / dt);
      const outRate = Math.max(0, (s.messages_out - prev.out) / dt);
      series.push({ in: inRate, out: outRate });
      if (series.length > SAMPLES) series.shift();
      $('s-in-rate').textContent = fmtRate(inRate);
      $('s-out-rate').textContent = fmtRate(outRate);
      $('chart-desc').textContent = `Now ${fmtRate(inRate)} messages in and ${fmtRate(outRate)} out per second.`;
    }
  }
  prev = { t: now, in: s.messages_in, out: s.messages_out };
  draw();

  const nodes = Array.isArray(s.nodes) && s.nodes.length ? s.nodes : [s];
  const nb = $('nodes');
  nb.textContent = '';
  for (const n of nodes) {
    nb.append(row([n.node_id || '(unnamed)', fmtInt(n.connections), fmtInt(n.users), fmtInt(n.subscriptions), fmtInt(n.messages_out)]));
  }

  const cb = $('channels');
  cb.textContent = '';
  $('channels-node').textContent = channels.node_id ? `(node ${channels.node_id})` : '';
  if (!channels.channels.length) {
    const tr = row(['No subscriptions']);
    tr.firstChild.colSpan = 2;
    tr.firstChild.className = 'muted';
    cb.append(tr);
  }
  for (const c of channels.channels) cb.append(row([c.channel, fmtInt(c.subscribers)]));
}

function draw() {
  const canvas = $('chart');
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const left = 48, right = 8, top = 8, bottom = 20;
  const pw = w - left - right, ph = h - top - bottom;
  let max = 1;
  for (const p of series) max = Math.max(max, p.in, p.out);
  max = niceCeil(max);

  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#5b6470';
  g.strokeStyle = '#e3e6ea';
  g.lineWidth = 1;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const y = top + ph - (ph * i) / 4;
    g.beginPath();
    g.moveTo(left, Math.round(y) + 0.5);
    g.lineTo(left + pw, Math.round(y) + 0.5);
    g.stroke();
    g.fillText(String(Number(((max * i) / 4).toPrecision(3))), left - 6, y);
  }
  g.textAlign = 'left';
  g.textBaseline = 'alphabetic';
  g.fillText(`${SAMPLES} s ago`, left, h - 4);
  g.textAlign = 'right';
  g.fillText('now', left + pw, h - 4);

  canvas.dataset.samples = String(series.length);
  const line = (key, color) => {
    if (series.length === 0) return;
    if (series.length === 1) { // one sample: a dot at "now"
      g.fillStyle = color;
      g.beginPath();
      g.arc(left + pw, top + ph - (ph * series[0][key]) / max, 3, 0, 2 * Math.PI);
      g.fill();
      return;
    }
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath();
    const off = SAMPLES - series.length;
    series.forEach((p, i) => {
      const x = left + (pw * (off + i)) / (SAMPLES - 1);
      const y = top + ph - (ph * p[key]) / max;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  };
  line('in', '#1f5fbf');
  line('out', '#c2410c');
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// ---- webhooks ----

let polls = 0;
let deadOf = null; // the webhook whose dead letters are shown

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

async function act(path, method = 'POST') {
  $('hooks-error').textContent = '';
  try {
    await get(path, method);
  } catch (err) {
    $('hooks-error').textContent = `${method} ${path}: ${err.message}`;
  }
  await loadHooks();
  if (deadOf) await loadDead(deadOf);
}

function showHooks(hooks) {
  const body = $('hooks');
  body.replaceChildren();
  if (!hooks.length) {
    const tr = row(['No webhooks', '', '', '', '', '', '']);
    body.append(tr);
    return;
  }
  for (const h of hooks) {
    const status = h.status === 'paused' ? `paused: ${h.paused_reason || ''}` : (h.active ? 'active' : 'inactive');
    const tr = row([String(h.id), String(h.table_id), h.url, status, fmtInt(h.delivered_offset), fmtInt(h.lag), '']);
    const cell = tr.lastChild;
    cell.className = '';
    if (h.status === 'paused') {
      cell.append(button('Resume', () => act(`/api/ws/webhooks/${h.id}/resume`)), ' ',
        button('Skip', () => act(`/api/ws/webhooks/${h.id}/skip`)), ' ');
    }
    cell.append(button('Dead letters', () => loadDead(h.id)));
    body.append(tr);
  }
}

async function loadHooks() {
  try {
    const res = await get('/api/ws/webhooks');
    showHooks(res.results || []);
  } catch (err) {
    if (err instanceof KeyRefused) throw err;
    $('hooks-error').textContent = `Webhooks: ${err.message}`;
  }
}

async function loadDead(id) {
  deadOf = id;
  $('dead').hidden = false;
  $('dead-title').textContent = `Dead letters of webhook ${id}`;
  const body = $('dead-rows');
  try {
    const res = await get(`/api/ws/webhooks/${id}/dead-letters`);
    body.replaceChildren();
    for (const d of res.results || []) {
      const last = d.attempts.length ? d.attempts[d.attempts.length - 1] : null;
      const what = last ? (last.status ? `${last.status} ${last.response || ''}` : last.error || '') : '';
      const tr = row([d.event_id, d.event_type, String(d.attempts.length), what.slice(0, 120), '']);
      const cell = tr.lastChild;
      cell.className = '';
      cell.append(button(d.redeliver ? 'Pending…' : 'Redeliver', () => act(`/api/ws/webhooks/${id}/dead-letters/${d.id}/redeliver`)), ' ',
        button('Delete', () => act(`/api/ws/webhooks/${id}/dead-letters/${d.id}`, 'DELETE')));
      body.append(tr);
    }
    if (!body.children.length) body.append(row(['None', '', '', '', '']));
  } catch (err) {
    $('hooks-error').textContent = `Dead letters: ${err.message}`;
  }
}

$('dead-all').addEventListener('click', () => deadOf && act(`/api/ws/webhooks/${deadOf}/dead-letters/redeliver`));
$('dead-close').addEventListener('click', () => { deadOf = null; $('dead').hidden = true; });

async function poll() {
  timer = null;
  try {
    const [s, ch] = await Promise.all([get('/api/ws/stats'), get('/api/ws/channels?limit=10')]);
    if (!apiKey) return;
    showStats(s, ch);
    if (polls++ % 5 === 0) await loadHooks();
    live('connected', `Live · ${new Date().toLocaleTimeString('en-GB')}`);
  } catch (err) {
    if (err instanceof KeyRefused) {
      forget(err.message);
      return;
    }
    prev = null; // the gap is not a rate
    live('reconnecting', 'Server unreachable, retrying…');
  }
  if (apiKey) timer = setTimeout(poll, POLL_MS);
}

function open() {
  $('key').hidden = true;
  $('dash').hidden = false;
  $('forget').hidden = false;
  live('connecting', 'Connecting…');
  poll();
}

function forget(message) {
  clearTimeout(timer);
  timer = null;
  apiKey = null;
  prev = null;
  series.length = 0;
  sessionStorage.removeItem(KEY);
  $('dash').hidden = true;
  $('forget').hidden = true;
  $('key').hidden = false;
  $('key-error').textContent = message || '';
  live('idle', 'Not connected');
  $('api-key').focus();
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  apiKey = $('api-key').value.trim();
  $('api-key').value = '';
  if (!apiKey) return;
  sessionStorage.setItem(KEY, apiKey);
  $('key-error').textContent = '';
  open();
});
$('forget').addEventListener('click', () => forget());
window.addEventListener('resize', draw);

apiKey = sessionStorage.getItem(KEY);
if (apiKey) open();
else forget();
