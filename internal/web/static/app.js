// The tablecast web app: sign in, pick a workspace and a table, edit it live
// with others. Writes go through the REST API with X-WebSocket-Id set to
// this page's socket, so the page is not sent its own changes; everything
// else arrives on the socket (record_T and field_T) and is applied by row
// version. Presence on record_T says which cell each person is on.

import { TablecastClient } from '/static/tablecast.js';
import { compareDecimal, cellText, applyJSON0 } from '/static/rows.js';

const TOKEN_KEY = 'tablecast.token';
const SESSION_KEY = 'tablecast.session';
const $ = (id) => document.getElementById(id);

let token = null;
let me = null; // {sub, name}
let client = null;
let view = null; // the open TableView
let reconnecting = false; // between a lost connection and its recovery

// ---- helpers ----

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    let msg = e.message || `HTTP ${status}`;
    if (e.details) msg += ': ' + Object.entries(e.details).map(([k, v]) => `${k} ${v}`).join('; ');
    super(msg);
    this.status = status;
    this.code = e.code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const socket = client && client.connectionId;
  if (socket && method !== 'GET') headers['X-WebSocket-Id'] = socket; // not echoed to this page
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* no body */ }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function decodeToken(t) {
  const parts = t.split('.');
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '='));
    const c = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (ch) => ch.charCodeAt(0))));
    if (c.sub === undefined || c.sub === null) return null;
    return { sub: String(c.sub), name: typeof c.name === 'string' && c.name ? c.name : String(c.sub) };
  } catch {
    return null;
  }
}

function el(tag, attrs = {}, ...children) {
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

const SECTIONS = ['loading', 'login', 'picker', 'table-view'];
function show(id) {
  for (const s of SECTIONS) $(s).hidden = s !== id;
}

let toastTimer = null;
function toast(msg) {
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

function tabSession() {
  let s = sessionStorage.getItem(SESSION_KEY);
  if (!s || !/^[A-Za-z0-9_-]{1,64}$/.test(s)) {
    s = 'tab' + Math.random().toString(36).slice(2, 12);
    sessionStorage.setItem(SESSION_KEY, s);
  }
  return s;
}

function crumbs(items) {
  const nav = $('crumbs');
  nav.textContent = '';
  items.forEach((it, i) => {
    if (i > 0) nav.append(' › ');
    if (it.href) {
      nav.append(el('a', { href: it.href, onclick: (e) => { e.preventDefault(); navigate(it.href); } }, it.text));
    } else {
      nav.append(el('span', { 'aria-current': 'page' }, it.text));
    }
  });
}

// ---- connection indicator ----

function indicate(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  $('conn-text').textContent = text;
}

function wireClient() {
  client.on('state', ({ state }) => {
    if (state === 'connecting') indicate('connecting', 'Connecting…');
    if (state === 'closed') indicate('closed', 'Disconnected');
  });
  client.on('reconnecting', ({ attempt }) => {
    reconnecting = true;
    indicate('reconnecting', `Reconnecting… (attempt ${attempt})`);
  });
  client.on('disconnected', () => {
    reconnecting = true;
    indicate('reconnecting', 'Reconnecting…');
  });
  client.on('connected', ({ reconnected }) => {
    if (!reconnected) {
      indicate('connected', 'Connected');
      return;
    }
    if (view) {
      indicate('reconnecting', 'Reconnected, catching up…');
      view.reconnected();
    } else {
      reconnecting = false;
      indicate('recovered', 'Reconnected');
    }
  });
  client.on('recovered', (ev) => view && view.recovered(ev, true));
  client.on('not_recovered', (ev) => view && view.recovered(ev, false));
  client.on('resubscribe_failed', (ev) => {
    toast(`Lost the subscription to ${ev.collection}: ${ev.error.message}`);
    if (view) view.lost();
  });
  client.on('unsubscribed', (ev) => {
    if (view && (ev.collection === view.records || ev.collection === view.fieldsCol)) {
      toast('You no longer have access to this table.');
      view.lost();
    }
  });
  client.on('op', (m) => view && view.op(m));
  client.on('presence', (p) => view && view.presence(p));
  client.on('server_error', ({ error }) => toast(error.message));
  client.on('closed', ({ error }) => {
    if (error && error.code === 'auth_failed') signOut('The server refused your token. Sign in again.');
  });
}

// ---- sign in ----

function showLogin(error) {
  show('login');
  crumbs([]);
  $('login-name-form').hidden = false;
  $('login-error').textContent = error || '';
  $('login-name').focus();
}

function signOut(message) {
  if (view) { view.close(); view = null; }
  if (client) { client.close(); client = null; }
  sessionStorage.removeItem(TOKEN_KEY);
  token = me = null;
  $('me').textContent = '';
  $('signout').hidden = true;
  indicate('idle', 'Not connected');
  showLogin(message);
}

async function loginWithName(ev) {
  ev.preventDefault();
  const name = $('login-name').value.trim();
  if (!name) return;
  try {
    const res = await fetch('/api/dev/token', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user_id: name }),
    });
    const body = await res.json().catch(() => null);
    if (res.status === 404) {
      $('login-error').textContent = 'This server is not in dev mode: paste a token below (tablecast token --sub NAME).';
      return;
    }
    if (!res.ok) throw new ApiError(res.status, body);
    sessionStorage.setItem(TOKEN_KEY, body.token);
    start();
  } catch (err) {
    $('login-error').textContent = `Could not sign in: ${err.message}`;
  }
}

function loginWithToken(ev) {
  ev.preventDefault();
  const t = $('login-token').value.trim();
  if (!decodeToken(t)) {
    $('login-error').textContent = 'That is not a JWT (three base64url parts with a sub claim).';
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, t);
  $('login-token').value = '';
  start();
}

// ---- start and routing ----

async function start() {
  const params = new URLSearchParams(location.search);
  const fromLink = params.get('token');
  if (fromLink) {
    // A deep link: keep the token for this tab and take it out of the
    // address bar (and so out of history and screenshots).
    sessionStorage.setItem(TOKEN_KEY, fromLink);
    params.delete('token');
    const q = params.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
  }
  token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) { showLogin(); return; }
  me = decodeToken(token);
  if (!me) { signOut('That token is not a JWT.'); return; }
  $('me').textContent = me.name === me.sub ? me.sub : `${me.name} (${me.sub})`;
  $('signout').hidden = false;
  show('loading');
  if (client) client.close();
  client = new TablecastClient({
    token: () => sessionStorage.getItem(TOKEN_KEY) || '',
    sessionId: tabSession(),
    reconnectMax: 5000,
  });
  wireClient();
  try {
    await client.connect();
  } catch (err) {
    if (err.code === 'auth_failed') signOut('The server refused your token. Sign in again.');
    return;
  }
  await route();
}

function navigate(href) {
  history.pushState(null, '', href);
  route();
}

async function route() {
  if (!client) return;
  if (view) { view.close(); view = null; }
  const p = new URLSearchParams(location.search);
  const tableId = Number(p.get('table'));
  try {
    if (Number.isInteger(tableId) && tableId > 0) {
      view = new TableView(tableId);
      await view.open();
    } else {
      await openPicker(Number(p.get('workspace')) || 0);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { signOut('Your token is no longer accepted. Sign in again.'); return; }
    if (err instanceof ApiError && err.status === 404) {
      toast('That table does not exist, or you are not a member of its workspace.');
      history.replaceState(null, '', '/');
      await openPicker(0);
      return;
    }
    toast(err.message);
  }
}

// ---- workspaces and tables ----

let pickerWorkspace = null;

async function openPicker(wsId) {
  show('picker');
  crumbs([{ text: 'Workspaces' }]);
  const { results } = await api('GET', '/api/workspaces');
  const list = $('workspaces');
  list.textContent = '';
  if (results.length === 0) list.append(el('li', { class: 'muted' }, 'No workspace yet: create one.'));
  for (const ws of results) {
    list.append(el('li', {}, el('a', {
      href: `?workspace=${ws.id}`,
      class: ws.id === wsId ? 'current' : undefined,
      'aria-current': ws.id === wsId ? 'page' : undefined,
      onclick: (e) => { e.preventDefault(); navigate(`?workspace=${ws.id}`); },
    }, ws.name), el('span', { class: 'muted' }, ` (${ws.role})`)));
  }
  pickerWorkspace = results.find((w) => w.id === wsId) || null;
  $('workspace-detail').hidden = !pickerWorkspace;
  if (!pickerWorkspace) return;
  crumbs([{ text: 'Workspaces', href: '/' }, { text: pickerWorkspace.name }]);
  $('workspace-title').textContent = pickerWorkspace.name;
  const tables = await api('GET', `/api/workspaces/${wsId}/tables`);
  const tl = $('tables');
  tl.textContent = '';
  if (tables.results.length === 0) tl.append(el('li', { class: 'muted' }, 'No table yet: create one.'));
  for (const t of tables.results) {
    tl.append(el('li', {}, el('a', { href: `?table=${t.id}`, onclick: (e) => { e.preventDefault(); navigate(`?table=${t.id}`); } }, t.name)));
  }
  const admin = pickerWorkspace.role === 'admin';
  $('invite').hidden = !admin;
  $('members').textContent = '';
  if (admin) await showMembers(wsId);
}

async function showMembers(wsId) {
  const m = await api('GET', `/api/workspaces/${wsId}/members`);
  $('members').textContent = 'Members: ' + m.results.map((x) => `${x.user_id} (${x.role})`).join(', ');
}

async function createWorkspace(ev) {
  ev.preventDefault();
  try {
    const ws = await api('POST', '/api/workspaces', { name: $('new-workspace-name').value.trim() });
    $('new-workspace-name').value = '';
    navigate(`?workspace=${ws.id}`);
  } catch (err) { toast(`Could not create the workspace: ${err.message}`); }
}

async function createTable(ev) {
  ev.preventDefault();
  if (!pickerWorkspace) return;
  try {
    const t = await api('POST', `/api/workspaces/${pickerWorkspace.id}/tables`, { name: $('new-table-name').value.trim() });
    $('new-table-name').value = '';
    navigate(`?table=${t.id}`);
  } catch (err) { toast(`Could not create the table: ${err.message}`); }
}

async function invite(ev) {
  ev.preventDefault();
  if (!pickerWorkspace) return;
  try {
    await api('POST', `/api/workspaces/${pickerWorkspace.id}/members`, { user_id: $('invite-user').value.trim(), role: $('invite-role').value });
    $('invite-user').value = '';
    await showMembers(pickerWorkspace.id);
  } catch (err) { toast(`Could not invite: ${err.message}`); }
}

// ---- values ----

function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

// ---- the table ----

class TableView {
  constructor(id) {
    this.id = id;
    this.records = `record_${id}`;
    this.fieldsCol = `field_${id}`;
    this.table = null;
    this.fields = [];
    this.rows = new Map(); // id -> {id, order, version, fields}
    this.loaded = false;
    this.early = []; // ops that came before the rows
    this.active = null; // {row, field}
    this.editing = null;
    this.peers = new Map(); // connection id -> {user, name, row, field}
    this.catchingUp = false;
    this.missed = 0;
    this.closed = false;
    this.fetching = new Set();
  }

  async open() {
    show('table-view');
    $('grid').querySelector('tbody').textContent = '';
    $('grid').querySelector('thead').textContent = '';
    const [table, fields] = await Promise.all([api('GET', `/api/tables/${this.id}`), api('GET', `/api/tables/${this.id}/fields`)]);
    this.table = table;
    this.setFields(fields.results);
    $('table-name').textContent = this.table.name;
    document.title = `${this.table.name} · tablecast`;
    const wss = await api('GET', '/api/workspaces');
    const ws = wss.results.find((w) => w.id === this.table.workspace_id);
    crumbs([{ text: 'Workspaces', href: '/' }, { text: ws ? ws.name : 'Workspace', href: `?workspace=${this.table.workspace_id}` }, { text: this.table.name }]);
    // Subscribe first: every change after the reply arrives; the rows read
    // next include some of them, which the row versions tell apart.
    await client.subscribe(this.records);
    await client.subscribe(this.fieldsCol);
    if (this.closed) return;
    await this.loadRows();
    if (this.closed) return;
    this.render();
    this.renderPeople();
    this.announce();
    indicate(reconnecting ? 'reconnecting' : 'connected', reconnecting ? 'Reconnecting…' : 'Connected');
  }

  close() {
    this.closed = true;
    if (client) {
      client.presence(this.records, undefined, null).catch(() => {});
      client.unsubscribe(this.records).catch(() => {});
      client.unsubscribe(this.fieldsCol).catch(() => {});
    }
    document.title = 'tablecast';
  }

  lost() {
    this.close();
    view = null;
    history.replaceState(null, '', '/');
    route();
  }

  setFields(fields) {
    this.fields = [...fields].sort((a, b) => (b.primary - a.primary) || (a.order - b.order) || (a.id - b.id));
    this.fieldById = new Map(this.fields.map((f) => [String(f.id), f]));
  }

  async loadRows() {
    this.loaded = false;
    this.early = [];
    const rows = new Map();
    let cursor;
    do {
      const page = await client.query(this.records, cursor ? { limit: 200, cursor } : { limit: 200 });
      for (const s of page.results) {
        rows.set(Number(s.document), { id: Number(s.document), order: s.data.order, version: s.v, fields: { ...s.data.fields } });
      }
      cursor = page.next_cursor;
    } while (cursor && rows.size < 20000);
    this.rows = rows;
    this.loaded = true;
    const early = this.early;
    this.early = [];
    for (const m of early) this.applyOp(m, false);
  }

  sortedRows() {
    return [...this.rows.values()].sort((a, b) => compareDecimal(a.order, b.order) || a.id - b.id);
  }

  // ---- rendering ----

  render() {
    const grid = $('grid');
    const head = grid.querySelector('thead');
    head.textContent = '';
    const hr = el('tr', { role: 'row' }, el('th', { scope: 'col', role: 'columnheader', class: 'rowhead' }, el('span', { class: 'sr-only' }, 'Row')));
    for (const f of this.fields) {
      hr.append(el('th', { scope: 'col', role: 'columnheader', 'data-field': f.id, title: f.type }, f.name));
    }
    head.append(hr);
    const body = grid.querySelector('tbody');
    body.textContent = '';
    const rows = this.sortedRows();
    rows.forEach((r) => body.append(this.rowElement(r)));
    this.renumber();
    if (this.active && !this.cell(this.active.row, this.active.field)) this.active = null;
    if (!this.active && rows.length && this.fields.length) this.active = { row: rows[0].id, field: String(this.fields[0].id) };
    this.markActive(false);
    this.paintPresence();
    $('empty').hidden = rows.length > 0;
  }

  rowElement(r) {
    const tr = el('tr', { role: 'row', 'data-row': r.id });
    tr.append(el('th', { scope: 'row', role: 'rowheader', class: 'rowhead' },
      el('span', { class: 'n' }),
      el('button', {
        type: 'button', class: 'quiet', 'aria-label': `Delete row ${r.id}`, title: 'Delete row', tabindex: '-1',
        onclick: () => this.deleteRow(r.id),
      }, '×')));
    for (const f of this.fields) {
      const v = r.fields[f.id];
      tr.append(el('td', {
        role: 'gridcell', tabindex: '-1', 'data-field': f.id,
        class: f.type === 'number' ? 'num' : undefined,
      }, cellText(f, v)));
    }
    return tr;
  }

  renumber() {
    let i = 0;
    for (const tr of $('grid').tBodies[0].rows) tr.querySelector('.n').textContent = String(++i);
  }

  rowEl(rowId) { return $('grid').querySelector(`tbody tr[data-row="${rowId}"]`); }

  cell(rowId, fieldId) {
    const tr = this.rowEl(rowId);
    return tr ? tr.querySelector(`td[data-field="${fieldId}"]`) : null;
  }

  updateCell(rowId, fieldId) {
    const td = this.cell(rowId, fieldId);
    const f = this.fieldById.get(String(fieldId));
    if (!td || !f) return;
    if (this.editing && this.editing.td === td) return; // the editor keeps its text
    td.textContent = cellText(f, this.rows.get(rowId).fields[fieldId]);
  }

  updateRow(rowId) {
    for (const f of this.fields) this.updateCell(rowId, String(f.id));
  }

  /** Puts a row's element where its order says (inserting it if new). */
  placeRow(rowId, flash) {
    const body = $('grid').tBodies[0];
    let tr = this.rowEl(rowId);
    const row = this.rows.get(rowId);
    if (!tr) tr = this.rowElement(row);
    const sorted = this.sortedRows();
    const i = sorted.findIndex((r) => r.id === rowId);
    const next = sorted.slice(i + 1).map((r) => this.rowEl(r.id)).find((e) => e && e !== tr);
    if (tr.nextElementSibling !== next || !tr.parentNode) body.insertBefore(tr, next || null);
    this.renumber();
    $('empty').hidden = true;
    if (flash) {
      tr.classList.remove('flash');
      void tr.offsetWidth;
      tr.classList.add('flash');
    }
    this.paintPresence();
  }

  removeRow(rowId) {
    const tr = this.rowEl(rowId);
    if (!tr) return;
    let moveTo = null;
    if (this.active && this.active.row === rowId) {
      const other = tr.nextElementSibling || tr.previousElementSibling;
      if (other) moveTo = Number(other.dataset.row);
    }
    if (this.editing && this.editing.row === rowId) this.editing = null;
    tr.remove();
    this.renumber();
    $('empty').hidden = this.rows.size > 0;
    if (this.active && this.active.row === rowId) {
      this.active = moveTo === null ? null : { row: moveTo, field: this.active.field };
      this.markActive(document.activeElement === document.body);
      this.announce();
    }
  }

  // ---- changes from the socket ----

  op(m) {
    if (this.closed) return;
    if (m.collection === this.fieldsCol) {
      this.reloadFields();
      return;
    }
    if (m.collection !== this.records) return;
    if (!this.loaded) {
      this.early.push(m);
      return;
    }
    // While catching up, count what the replay changed (a resume also
    // replays this page's own writes, which are here already).
    if (this.applyOp(m, true) && this.catchingUp) this.missed++;
  }

  /** Applies an op of record_T by row version; false if it changed nothing here. */
  applyOp(m, flash) {
    const id = Number(m.document);
    const d = m.data || {};
    const row = this.rows.get(id);
    if (d.create) {
      if (row) return false;
      this.rows.set(id, { id, order: d.create.order, version: d.v + 1, fields: { ...(d.create.fields || {}) } });
      this.placeRow(id, flash);
      return true;
    }
    if (d.del) {
      if (!row) return false;
      this.rows.delete(id);
      this.removeRow(id);
      return true;
    }
    if (!row) { this.refetch(id); return true; }
    if (d.v < row.version) return false; // already in what was read
    if (d.v > row.version) { this.refetch(id); return true; } // a change in between is missing
    const next = structuredClone(row);
    if (!Array.isArray(d.op) || !applyJSON0(next, d.op)) { this.refetch(id); return true; }
    next.version = d.v + 1;
    this.rows.set(id, next);
    if (next.order !== row.order) this.placeRow(id, false);
    this.updateRow(id);
    if (flash) {
      for (const c of d.op) {
        const td = c.p && c.p[0] === 'fields' ? this.cell(id, c.p[1]) : null;
        if (td) { td.classList.remove('changed'); void td.offsetWidth; td.classList.add('changed'); }
      }
    }
    return true;
  }

  async refetch(id) {
    if (this.fetching.has(id)) return;
    this.fetching.add(id);
    try {
      const r = await api('GET', `/api/tables/${this.id}/rows/${id}`);
      this.accept(r);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && this.rows.has(id)) {
        this.rows.delete(id);
        this.removeRow(id);
      }
    } finally {
      this.fetching.delete(id);
    }
  }

  /** Takes a row read from REST, unless what is here is newer. */
  accept(r) {
    if (this.closed) return;
    const local = this.rows.get(r.id);
    if (local && local.version > r.version) return;
    this.rows.set(r.id, { id: r.id, order: r.order, version: r.version, fields: { ...r.fields } });
    if (!local || local.order !== r.order) this.placeRow(r.id, false);
    this.updateRow(r.id);
  }

  async reloadFields() {
    if (this.reloadingFields) { this.fieldsStale = true; return; }
    this.reloadingFields = true;
    try {
      do {
        this.fieldsStale = false;
        const res = await api('GET', `/api/tables/${this.id}/fields`);
        if (this.closed) return;
        this.setFields(res.results);
      } while (this.fieldsStale);
      this.editing = null;
      this.render();
      if (this.active) this.markActive(false);
    } catch (err) {
      toast(`Could not read the fields: ${err.message}`);
    } finally {
      this.reloadingFields = false;
    }
  }

  reconnected() {
    // Presence is sent again by everyone still here, after our resubscribe.
    this.peers.clear();
    this.paintPresence();
    this.renderPeople();
    this.catchingUp = true;
    this.missed = 0;
  }

  async recovered(ev, ok) {
    if (ev.collection === this.fieldsCol) {
      if (!ok) this.reloadFields();
      return;
    }
    if (ev.collection !== this.records) return;
    this.catchingUp = false;
    reconnecting = false;
    if (ok) {
      const n = this.missed;
      indicate('recovered', `Recovered: ${n} missed change${n === 1 ? '' : 's'} applied`);
      return;
    }
    // The server could not replay what was missed: read the rows again.
    indicate('reconnecting', 'Reconnected, reloading the table…');
    try {
      await this.loadRows();
      this.editing = null;
      this.render();
      indicate('resynced', 'Reconnected: table reloaded');
    } catch (err) {
      toast(`Could not reload the rows: ${err.message}`);
    }
  }

  // ---- presence ----

  announce() {
    if (this.closed || !client) return;
    const state = { name: me.name };
    if (this.active) { state.row = this.active.row; state.field = this.active.field; }
    client.presence(this.records, undefined, state).catch((err) => {
      if (err.code !== 'connection_lost' && err.code !== 'closed') toast(`Presence: ${err.message}`);
    });
  }

  presence(p) {
    if (p.collection !== this.records || p.document) return;
    if (client && p.connection_id === client.connectionId) return;
    if (!p.state) this.peers.delete(p.connection_id);
    else {
      const s = p.state;
      this.peers.set(p.connection_id, {
        user: p.user_id,
        name: typeof s.name === 'string' && s.name ? s.name : p.user_id,
        row: Number(s.row) || null,
        field: s.field === undefined || s.field === null ? null : String(s.field),
      });
    }
    this.paintPresence();
    this.renderPeople();
  }

  paintPresence() {
    for (const td of $('grid').querySelectorAll('td.peer')) {
      td.classList.remove('peer');
      td.removeAttribute('data-peer-names');
      td.removeAttribute('title');
      td.style.removeProperty('--peer-color');
    }
    const byCell = new Map();
    for (const p of this.peers.values()) {
      if (!p.row || !p.field) continue;
      const key = `${p.row}/${p.field}`;
      if (!byCell.has(key)) byCell.set(key, []);
      byCell.get(key).push(p);
    }
    for (const [key, ps] of byCell) {
      const [row, field] = key.split('/');
      const td = this.cell(row, field);
      if (!td) continue;
      const names = [...new Set(ps.map((p) => p.name))];
      td.classList.add('peer');
      td.style.setProperty('--peer-color', userColor(ps[0].user));
      td.dataset.peerNames = names.join(', ');
      td.title = `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} here`;
    }
  }

  renderPeople() {
    const ul = $('people');
    ul.textContent = '';
    const seen = new Map([[me.sub, `${me.name} (you)`]]);
    for (const p of this.peers.values()) if (!seen.has(p.user)) seen.set(p.user, p.name);
    for (const [user, name] of seen) {
      const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.setProperty('--peer-color', userColor(user));
      ul.append(el('li', { 'data-user': user }, sw, name));
    }
  }

  // ---- the active cell and the keyboard ----

  markActive(focus) {
    for (const td of $('grid').querySelectorAll('td[aria-selected="true"]')) {
      td.removeAttribute('aria-selected');
      td.tabIndex = -1;
    }
    if (!this.active) return;
    const td = this.cell(this.active.row, this.active.field);
    if (!td) return;
    td.setAttribute('aria-selected', 'true');
    td.tabIndex = 0;
    if (focus) {
      td.focus();
      td.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
  }

  activate(rowId, fieldId, focus = true) {
    const same = this.active && this.active.row === rowId && this.active.field === String(fieldId);
    this.active = { row: rowId, field: String(fieldId) };
    this.markActive(focus);
    if (!same) this.announce();
  }

  move(dRow, dCol, toEdge) {
    if (!this.active) return;
    const trs = [...$('grid').tBodies[0].rows];
    const ri = trs.findIndex((tr) => Number(tr.dataset.row) === this.active.row);
    const ci = this.fields.findIndex((f) => String(f.id) === this.active.field);
    if (ri < 0 || ci < 0) return;
    let r = ri + dRow, c = ci + dCol;
    if (toEdge === 'start') c = 0;
    if (toEdge === 'end') c = this.fields.length - 1;
    r = Math.max(0, Math.min(trs.length - 1, r));
    c = Math.max(0, Math.min(this.fields.length - 1, c));
    this.activate(Number(trs[r].dataset.row), String(this.fields[c].id));
  }

  keydown(e) {
    if (this.editing) {
      if (e.key === 'Enter') { e.preventDefault(); this.commitEdit(); this.move(1, 0); }
      else if (e.key === 'Escape') { e.preventDefault(); this.cancelEdit(); }
      else if (e.key === 'Tab') { e.preventDefault(); this.commitEdit(); this.move(0, e.shiftKey ? -1 : 1); }
      return;
    }
    if (e.target.matches && e.target.matches('th.rowhead button')) {
      // The row's delete button is the grid's leftmost stop (Enter or Space
      // presses it); the arrows lead on from it.
      const tr = e.target.closest('tr');
      const go = { ArrowRight: tr, ArrowUp: tr.previousElementSibling, ArrowDown: tr.nextElementSibling }[e.key];
      if (e.key === 'ArrowRight' && this.fields.length) {
        e.preventDefault();
        this.activate(Number(tr.dataset.row), String(this.fields[0].id));
      } else if (go && e.key !== 'ArrowRight') {
        e.preventDefault();
        go.querySelector('th.rowhead button').focus();
      }
      return;
    }
    if (!this.active || e.target.tagName !== 'TD') return;
    const atFirst = this.fields.length && this.active.field === String(this.fields[0].id);
    const keys = {
      ArrowUp: () => this.move(-1, 0), ArrowDown: () => this.move(1, 0),
      ArrowLeft: () => (atFirst ? this.rowEl(this.active.row).querySelector('th.rowhead button').focus() : this.move(0, -1)),
      ArrowRight: () => this.move(0, 1),
      Home: () => this.move(0, 0, 'start'), End: () => this.move(0, 0, 'end'),
      Enter: () => this.startEdit(), F2: () => this.startEdit(),
      Delete: () => this.clearCell(), Backspace: () => this.clearCell(),
    };
    if (keys[e.key] && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      keys[e.key]();
    } else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
      const f = this.fieldById.get(this.active.field);
      if (f && f.type !== 'boolean') {
        e.preventDefault();
        this.startEdit(e.key);
      }
    }
  }

  startEdit(initial) {
    const { row, field } = this.active;
    const f = this.fieldById.get(field);
    const r = this.rows.get(row);
    const td = this.cell(row, field);
    if (!f || !r || !td) return;
    if (f.type === 'boolean') { this.save(row, field, !r.fields[field]); return; }
    const input = el('input', {
      type: 'text', 'aria-label': `Edit ${f.name}, row ${td.parentElement.querySelector('.n').textContent}`,
      autocomplete: 'off', spellcheck: 'false',
    });
    input.value = initial !== undefined ? initial : cellText(f, r.fields[field]);
    td.classList.add('editing');
    td.textContent = '';
    td.append(input);
    this.editing = { row, field, td, input };
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    input.addEventListener('blur', () => { if (this.editing && this.editing.input === input) this.commitEdit(); });
  }

  endEdit() {
    const e = this.editing;
    this.editing = null;
    e.td.classList.remove('editing');
    e.td.textContent = '';
    this.updateCell(e.row, e.field);
    return e;
  }

  cancelEdit() {
    this.endEdit();
    this.markActive(true);
  }

  commitEdit() {
    const e = this.endEdit();
    const text = e.input.value;
    const f = this.fieldById.get(e.field);
    const r = this.rows.get(e.row);
    if (!f || !r) return;
    this.markActive(true);
    if (text === cellText(f, r.fields[e.field])) return; // unchanged
    // Strings go as typed: the server normalises them by the field's type
    // ("2.5" in a number field with 2 decimals is stored as "2.50").
    this.save(e.row, e.field, text);
  }

  clearCell() {
    const { row, field } = this.active;
    const r = this.rows.get(row);
    if (r && r.fields[field] !== null && r.fields[field] !== undefined && r.fields[field] !== '') this.save(row, field, null);
  }

  async save(rowId, fieldId, value) {
    const r = this.rows.get(rowId);
    if (!r || sameValue(r.fields[fieldId], value)) return;
    const before = r.fields[fieldId];
    r.fields[fieldId] = value; // shown at once; the answer replaces it
    this.updateCell(rowId, fieldId);
    const td = this.cell(rowId, fieldId);
    if (td) td.classList.add('saving');
    try {
      const updated = await api('PATCH', `/api/tables/${this.id}/rows/${rowId}`, { fields: { [fieldId]: value } });
      this.accept(updated);
    } catch (err) {
      toast(`Not saved: ${err.message}`);
      const cur = this.rows.get(rowId);
      if (cur && sameValue(cur.fields[fieldId], value)) {
        cur.fields[fieldId] = before;
        this.updateCell(rowId, fieldId);
      }
      this.refetch(rowId);
    } finally {
      const t = this.cell(rowId, fieldId);
      if (t) t.classList.remove('saving');
    }
  }

  async addRow() {
    try {
      const r = await api('POST', `/api/tables/${this.id}/rows`, { fields: {} });
      this.accept(r);
      if (this.fields.length) this.activate(r.id, String(this.fields[0].id));
    } catch (err) { toast(`Could not add a row: ${err.message}`); }
  }

  async deleteRow(rowId) {
    try {
      await api('DELETE', `/api/tables/${this.id}/rows/${rowId}`);
      if (this.rows.delete(rowId)) this.removeRow(rowId);
    } catch (err) { toast(`Could not delete the row: ${err.message}`); }
  }

  async addField(ev) {
    ev.preventDefault();
    const name = $('new-field-name').value.trim();
    if (!name) return;
    try {
      await api('POST', `/api/tables/${this.id}/fields`, { name, type: $('new-field-type').value });
      $('new-field-name').value = '';
      await this.reloadFields();
    } catch (err) { toast(`Could not add the field: ${err.message}`); }
  }
}

// ---- wiring ----

function wirePage() {
  $('login-name-form').addEventListener('submit', loginWithName);
  $('login-token-form').addEventListener('submit', loginWithToken);
  $('signout').addEventListener('click', () => signOut());
  $('new-workspace').addEventListener('submit', createWorkspace);
  $('new-table').addEventListener('submit', createTable);
  $('invite').addEventListener('submit', invite);
  $('add-row').addEventListener('click', () => view && view.addRow());
  $('new-field').addEventListener('submit', (e) => { if (view) view.addField(e); else e.preventDefault(); });
  const grid = $('grid');
  grid.addEventListener('keydown', (e) => view && view.keydown(e));
  grid.addEventListener('click', (e) => {
    const td = e.target.closest('td[role="gridcell"]');
    if (!td || !view || (view.editing && view.editing.td === td)) return;
    view.activate(Number(td.parentElement.dataset.row), td.dataset.field);
  });
  grid.addEventListener('dblclick', (e) => {
    const td = e.target.closest('td[role="gridcell"]');
    if (td && view && !view.editing) view.startEdit();
  });
  window.addEventListener('popstate', route);
}

wirePage();
start();
