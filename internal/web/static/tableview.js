// The open table: its grid, kept live from record_T and field_T; edits
// through the REST API; presence on the cell each person is on.

import { compareDecimal, cellText, applyJSON0 } from '/static/rows.js';
import { $, ApiError, el, indicate, show, toast, userColor } from '/static/ui.js';

// ---- values ----

function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

// ---- the table ----

export class TableView {
  /** ctx: what the page gives the table (app.js). */
  constructor(id, ctx) {
    this.ctx = ctx;
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
    const [table, fields] = await Promise.all([this.ctx.api('GET', `/api/tables/${this.id}`), this.ctx.api('GET', `/api/tables/${this.id}/fields`)]);
    this.table = table;
    this.setFields(fields.results);
    $('table-name').textContent = this.table.name;
    document.title = `${this.table.name} · tablecast`;
    const wss = await this.ctx.api('GET', '/api/workspaces');
    const ws = wss.results.find((w) => w.id === this.table.workspace_id);
    this.ctx.crumbs([{ text: 'Workspaces', href: '/' }, { text: ws ? ws.name : 'Workspace', href: `?workspace=${this.table.workspace_id}` }, { text: this.table.name }]);
    // Subscribe first: every change after the reply arrives; the rows read
    // next include some of them, which the row versions tell apart.
    await this.ctx.client.subscribe(this.records);
    await this.ctx.client.subscribe(this.fieldsCol);
    if (this.closed) return;
    await this.loadRows();
    if (this.closed) return;
    this.render();
    this.renderPeople();
    this.announce();
    indicate(this.ctx.reconnecting ? 'reconnecting' : 'connected', this.ctx.reconnecting ? 'Reconnecting…' : 'Connected');
  }

  close() {
    this.closed = true;
    if (this.ctx.client) {
      this.ctx.client.presence(this.records, undefined, null).catch(() => {});
      this.ctx.client.unsubscribe(this.records).catch(() => {});
      this.ctx.client.unsubscribe(this.fieldsCol).catch(() => {});
    }
    document.title = 'tablecast';
  }

  lost() {
    this.close();
    history.replaceState(null, '', '/');
    this.ctx.left();
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
      const page = await this.ctx.client.query(this.records, cursor ? { limit: 200, cursor } : { limit: 200 });
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
      const r = await this.ctx.api('GET', `/api/tables/${this.id}/rows/${id}`);
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
        const res = await this.ctx.api('GET', `/api/tables/${this.id}/fields`);
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
    this.ctx.reconnecting = false;
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
    if (this.closed || !this.ctx.client) return;
    const state = { name: this.ctx.me.name };
    if (this.active) { state.row = this.active.row; state.field = this.active.field; }
    this.ctx.client.presence(this.records, undefined, state).catch((err) => {
      if (err.code !== 'connection_lost' && err.code !== 'closed') toast(`Presence: ${err.message}`);
    });
  }

  presence(p) {
    if (p.collection !== this.records || p.document) return;
    if (this.ctx.client && p.connection_id === this.ctx.client.connectionId) return;
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
    const seen = new Map([[this.ctx.me.sub, `${this.ctx.me.name} (you)`]]);
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
    // ("2.555" in a number field with 2 decimals is stored as 2.56).
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
      const updated = await this.ctx.api('PATCH', `/api/tables/${this.id}/rows/${rowId}`, { fields: { [fieldId]: value } });
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
      const r = await this.ctx.api('POST', `/api/tables/${this.id}/rows`, { fields: {} });
      this.accept(r);
      if (this.fields.length) this.activate(r.id, String(this.fields[0].id));
    } catch (err) { toast(`Could not add a row: ${err.message}`); }
  }

  async deleteRow(rowId) {
    try {
      await this.ctx.api('DELETE', `/api/tables/${this.id}/rows/${rowId}`);
      if (this.rows.delete(rowId)) this.removeRow(rowId);
    } catch (err) { toast(`Could not delete the row: ${err.message}`); }
  }

  async addField(ev) {
    ev.preventDefault();
    const name = $('new-field-name').value.trim();
    if (!name) return;
    try {
      await this.ctx.api('POST', `/api/tables/${this.id}/fields`, { name, type: $('new-field-type').value });
      $('new-field-name').value = '';
      await this.reloadFields();
    } catch (err) { toast(`Could not add the field: ${err.message}`); }
  }
}
