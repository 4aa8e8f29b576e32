// Pure helpers of the table app: row order, cell text, json0 ops on rows.
// No DOM and no I/O, so the browser suite can test them directly.

/** Compares two decimal strings ("1.5", "10.25", "-2"). */
export function compareDecimal(a, b) {
  const sa = a.startsWith('-'), sb = b.startsWith('-');
  if (sa !== sb) return sa ? -1 : 1;
  const [ia, fa = ''] = (sa ? a.slice(1) : a).split('.');
  const [ib, fb = ''] = (sb ? b.slice(1) : b).split('.');
  let c = ia.length - ib.length || (ia < ib ? -1 : ia > ib ? 1 : 0);
  if (!c) {
    const n = Math.max(fa.length, fb.length);
    const pa = fa.padEnd(n, '0'), pb = fb.padEnd(n, '0');
    c = pa < pb ? -1 : pa > pb ? 1 : 0;
  }
  return sa ? -c : c;
}

export function choiceText(field, id) {
  const choices = (field.options && field.options.choices) || [];
  const c = choices.find((x) => x.id === id || String(x.id) === String(id));
  return c ? String(c.value) : String(id);
}

export function cellText(field, v) {
  if (v === null || v === undefined) return '';
  switch (field.type) {
    case 'boolean': return v ? '✓' : '';
    case 'number': {
      // a JSON number, shown with the field's decimals ("2.50")
      const d = (field.options && field.options.decimals) || 0;
      return typeof v === 'number' ? v.toFixed(d) : String(v);
    }
    case 'single_select': return choiceText(field, v);
    case 'multiple_select': return Array.isArray(v) ? v.map((x) => choiceText(field, x)).join(', ') : String(v);
    default: return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

/** Applies json0 components to a document in place; false if one is not understood. */
export function applyJSON0(doc, op) {
  for (const c of op) {
    const p = c.p;
    if (!Array.isArray(p) || p.length === 0) return false;
    const stringOp = 'si' in c || 'sd' in c;
    const path = stringOp ? p.slice(0, -1) : p;
    let parent = doc;
    for (let i = 0; i < path.length - 1; i++) {
      parent = parent[path[i]];
      if (parent === null || typeof parent !== 'object') return false;
    }
    const key = path[path.length - 1];
    if (stringOp) {
      const s = parent[key];
      const at = p[p.length - 1];
      if (typeof s !== 'string' || typeof at !== 'number') return false;
      if ('sd' in c) parent[key] = s.slice(0, at) + s.slice(at + c.sd.length);
      if ('si' in c) parent[key] = parent[key].slice(0, at) + c.si + parent[key].slice(at);
    } else if ('na' in c) {
      if (typeof parent[key] !== 'number') return false;
      parent[key] += c.na;
    } else if ('lm' in c) {
      if (!Array.isArray(parent)) return false;
      const [item] = parent.splice(key, 1);
      parent.splice(c.lm, 0, item);
    } else if ('li' in c || 'ld' in c) {
      if (!Array.isArray(parent) || typeof key !== 'number') return false;
      if ('ld' in c) parent.splice(key, 1);
      if ('li' in c) parent.splice(key, 0, c.li);
    } else if ('oi' in c || 'od' in c) {
      if (Array.isArray(parent)) return false;
      if ('oi' in c) parent[key] = c.oi;
      else delete parent[key];
    } else {
      return false; // a subtype (t/o): refetch instead
    }
  }
  return true;
}

