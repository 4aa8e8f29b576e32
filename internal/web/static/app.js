// The tablecast web app: sign in, pick a workspace and a table, edit it live
// with others. Writes go through the REST API with X-WebSocket-Id set to
// this page's socket, so the page is not sent its own changes; everything
// else arrives on the socket (record_T and field_T) and is applied by row
// version. Presence on record_T says which cell each person is on.

import { TablecastClient } from '/static/tablecast.js';
import { $, ApiError, el, indicate, show, toast } from '/static/ui.js';
import { TableView } from '/static/tableview.js';

const TOKEN_KEY = 'tablecast.token';
const SESSION_KEY = 'tablecast.session';

let token = null;
let me = null; // {sub, name}
let client = null;
let view = null; // the open TableView
let reconnecting = false; // between a lost connection and its recovery

// ---- helpers ----

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
      view = new TableView(tableId, context);
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

// What the open table needs of the page: the socket, the user, the REST
// API, the breadcrumbs, and a way to leave.
const context = {
  get client() { return client; },
  get me() { return me; },
  get reconnecting() { return reconnecting; },
  set reconnecting(v) { reconnecting = v; },
  api: (method, path, body) => api(method, path, body),
  crumbs: (items) => crumbs(items),
  left() { view = null; route(); },
};

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
