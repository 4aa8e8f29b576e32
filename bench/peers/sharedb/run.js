#!/usr/bin/env node
'use strict';
// ShareDB peer for `tablecast bench ops`. See README.md for the contract.
//
//   node run.js --clients 100 --docs 10 --duration 10 --warmup 2 [--ops N] [--json out.json]
//   node run.js --postgres postgres://127.0.0.1/db ...   (ShareDB on sharedb-postgres)
//   node run.js --target ws://host:port/sharedb?token=T --collection record_7 --doc-ids 3,4 --fields 11,12 ...
//
// The ShareDB server (server.js) runs in a forked child process; this process
// runs the clients. With --target there is no child: the same clients run
// against another ShareDB server (tablecast's /sharedb), on the documents
// named. Human-readable progress goes to stderr, one JSON object to stdout
// (and to --json FILE).

const path = require('path');
const fs = require('fs');
const { fork } = require('child_process');
const { performance } = require('perf_hooks');
const { isDeepStrictEqual } = require('util');
const WebSocket = require('ws');
const ShareDBClient = require('sharedb/lib/client');

const SHAREDB_VERSION = require('sharedb/package.json').version;
const T0 = Date.now();

// ---------------------------------------------------------------- arguments

const USAGE = 'usage: node run.js [--clients 100] [--docs 10] [--duration 10] [--warmup 2] [--ops N] [--json FILE] [--postgres URL] [--deletes 1]\n' +
  '       [--target WS_URL --collection NAME --doc-ids ID,... --fields KEY,KEY]';
const STRING_FLAGS = new Set(['json', 'target', 'collection', 'doc-ids', 'fields', 'postgres']);

function parseArgs(argv) {
  const o = { clients: 100, docs: 10, duration: 10, warmup: null, ops: 0, json: '', deletes: 0,
    target: '', collection: '', 'doc-ids': '', fields: '', postgres: '' };
  const given = new Set();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stderr.write(USAGE + '\n');
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    a = a.slice(2);
    let v;
    const eq = a.indexOf('=');
    if (eq >= 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else {
      if (i + 1 >= argv.length) throw new Error(`--${a} needs a value`);
      v = argv[++i];
    }
    if (!(a in o)) throw new Error(`unknown flag --${a}`);
    given.add(a);
    if (STRING_FLAGS.has(a)) {
      o[a] = v;
      continue;
    }
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${a} wants a number, got ${JSON.stringify(v)}`);
    o[a] = n;
  }
  if (!Number.isInteger(o.clients) || o.clients < 1) throw new Error('--clients must be an integer >= 1');
  if (!Number.isInteger(o.docs) || o.docs < 1) throw new Error('--docs must be an integer >= 1');
  if (!(o.duration > 0)) throw new Error('--duration must be > 0 seconds');
  if (!Number.isInteger(o.ops) || o.ops < 0) throw new Error('--ops must be an integer >= 0');
  if (o.deletes !== 0 && o.deletes !== 1) throw new Error('--deletes must be 0 or 1');
  // With --ops and no explicit --warmup, nothing is discarded: a small op
  // budget would otherwise be spent entirely inside the warm-up.
  if (o.warmup == null) o.warmup = (o.ops > 0 ? 0 : 2);
  if (!(o.warmup >= 0)) throw new Error('--warmup must be >= 0 seconds');
  if (o.warmup >= o.duration) throw new Error('--warmup must be shorter than --duration (the warm-up is part of the run)');
  // The documents: "1".."docs" of record_1 with text cells "1" and "2" on
  // the peer's own server; named by --doc-ids and --fields with --target.
  if (o.target && o.postgres) throw new Error('--postgres is for the peer\'s own server, not with --target');
  if (o.target) {
    if (!o.collection || !o['doc-ids'] || !o.fields) throw new Error('--target needs --collection, --doc-ids and --fields');
    o.docIDs = o['doc-ids'].split(',');
    o.fieldKeys = o.fields.split(',');
    if (o.fieldKeys.length !== 2) throw new Error('--fields names two text cells');
    if (given.has('docs') && o.docs !== o.docIDs.length) throw new Error('--docs and --doc-ids disagree');
    o.docs = o.docIDs.length;
  } else {
    o.collection = 'record_1';
    o.docIDs = Array.from({ length: o.docs }, (_, i) => String(i + 1));
    o.fieldKeys = ['1', '2'];
  }
  return o;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`sharedb peer: ${e.message}\n${USAGE}\n`);
  process.exit(2);
}

const log = (msg) => process.stderr.write(`[sharedb] ${msg}\n`);

// ------------------------------------------------------- child and clean-up

// postgresCPU returns the user+system CPU seconds used so far by every
// process of this machine named postgres (the server and its backends, which
// bench ops counts the same way for tablecast's store). A backend that exits
// meanwhile takes its CPU with it; ShareDB's pool keeps its connections open
// while it is busy.
function postgresCPU() {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(pid)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch (_) {
      continue; // gone
    }
    const open = stat.indexOf('('), close = stat.lastIndexOf(')');
    if (stat.slice(open + 1, close) !== 'postgres') continue;
    const f = stat.slice(close + 2).split(' '); // f[0] is field 3 (state)
    ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  }
  return ticks / 100; // USER_HZ
}

let child = null;
let childExited = false;
const connections = [];
let finished = false;

function killChild() {
  if (child && !childExited) {
    try { child.kill('SIGKILL'); } catch (_) { /* already gone */ }
  }
}

function closeClients() {
  for (const c of connections) {
    try { c.close(); } catch (_) { /* ignore */ }
  }
}

function die(msg, code = 1) {
  if (finished) return;
  finished = true;
  process.stderr.write(`sharedb peer: ${msg}\n`);
  closeClients();
  killChild();
  process.exit(code);
}

process.on('exit', killChild);
process.on('SIGINT', () => die('interrupted (SIGINT)', 130));
process.on('SIGTERM', () => die('terminated (SIGTERM)', 143));
process.on('uncaughtException', (e) => die(`uncaught exception: ${e && e.stack || e}`));
process.on('unhandledRejection', (e) => die(`unhandled rejection: ${e && e.stack || e}`));

// Hard bound: the whole run, start-up to exit, ends within duration + 30 s.
const HARD_LIMIT_MS = opts.duration * 1000 + 28000;
const hardTimer = setTimeout(() => die(`did not finish within ${(HARD_LIMIT_MS / 1000).toFixed(0)} s, giving up`), HARD_LIMIT_MS);
const deadline = T0 + HARD_LIMIT_MS;

// Count ShareDB's own warnings (e.g. "Invalid version from server") instead
// of letting them flood stderr; a few are still shown.
let sharedbWarnings = 0;
ShareDBClient.logger.setMethods({
  warn: (...args) => {
    sharedbWarnings++;
    if (sharedbWarnings <= 5) process.stderr.write(`[sharedb] client warning: ${args.map(String).join(' ')}\n`);
  },
});

// ------------------------------------------------------------------ helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

function remainingMs(reserveMs) {
  return Math.max(0, deadline - Date.now() - reserveMs);
}

const childWaiters = new Map(); // type -> [resolve]
function childRequest(msg, replyType, ms) {
  return withTimeout(new Promise((resolve) => {
    if (!childWaiters.has(replyType)) childWaiters.set(replyType, []);
    childWaiters.get(replyType).push(resolve);
    child.send(msg);
  }), ms, `server reply ${replyType}`);
}

function startServer() {
  return new Promise((resolve, reject) => {
    child = fork(path.join(__dirname, 'server.js'), [], {
      env: { ...process.env, SHAREDB_BENCH_DOCS: String(opts.docs), SHAREDB_BENCH_POSTGRES: opts.postgres },
      // The child's stdout goes to our stderr: our stdout carries only the JSON.
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    child.on('message', (msg) => {
      if (!msg || typeof msg !== 'object') return;
      if (msg.type === 'listening') return resolve(msg.port);
      const q = childWaiters.get(msg.type);
      if (q && q.length) q.shift()(msg);
    });
    child.on('error', (e) => reject(e));
    child.on('exit', (code, signal) => {
      childExited = true;
      if (!finished) die(`server process exited unexpectedly (code ${code}, signal ${signal})`);
      reject(new Error(`server exited (code ${code}, signal ${signal})`));
    });
  });
}

// Transforms seen from the clients (with --target, where the server's own
// counts are not at hand): an ack whose v is past the version the op was
// sent at was transformed against that many ops. An ack is the first
// message with the client's src and the op's seq: a reply without an op,
// or the op itself coming back from the server's stream.
let clientTransforms = 0;
let clientTransformPairs = 0;

function openConnection(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const conn = new ShareDBClient.Connection(ws);
    connections.push(conn);
    const sentAt = new Map(); // seq -> the version the op was sent at
    conn.on('send', (m) => {
      if (m.a === 'op' && m.seq != null) sentAt.set(m.seq, m.v);
    });
    conn.on('receive', (req) => {
      const m = req.data;
      if (!m || m.a !== 'op' || m.error || m.src !== conn.id || !sentAt.has(m.seq)) return;
      const v = sentAt.get(m.seq);
      sentAt.delete(m.seq);
      if (measuring && v != null && m.v > v) {
        clientTransforms++;
        clientTransformPairs += m.v - v;
      }
    });
    const onErr = (e) => reject(new Error(`websocket: ${e && e.message || e}`));
    ws.addEventListener('error', onErr);
    ws.addEventListener('open', () => {
      ws.removeEventListener('error', onErr);
      ws.addEventListener('error', (e) => { if (!finished && !stopping) die(`websocket error: ${e && e.message || e}`); });
      ws.addEventListener('close', () => { if (!finished && !stopping) die('a client websocket closed during the run'); });
      resolve(conn);
    });
  });
}

function docPromise(doc, method) {
  return new Promise((resolve, reject) => {
    doc[method]((err) => (err ? reject(err) : resolve(doc)));
  });
}

async function fetchSnapshots(url) {
  const conn = await openConnection(url);
  const out = [];
  for (const id of opts.docIDs) {
    const doc = conn.get(opts.collection, id);
    await docPromise(doc, 'fetch');
    out.push({ v: doc.version, data: doc.data });
  }
  conn.close();
  return out;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const r3 = (x) => Math.round(x * 1000) / 1000;

// --------------------------------------------------------------------- load

let stopping = false;   // no new ops are issued once set
let measuring = false;  // acks are counted only while set
let issued = 0;         // ops submitted, warm-up included
let acked = 0;          // acks inside the measured window
let ackedTotal = 0;
let latencies = [];     // ms, acks inside the measured window
let windowStart = 0;
let windowEnd = 0;
let loadError = null;
let stopLoad = null;

function issue(c) {
  if (stopping || loadError) {
    c.running = false;
    return;
  }
  if (opts.ops > 0 && issued >= opts.ops) {
    c.running = false;
    if (stopLoad) stopLoad('ops');
    return;
  }
  const doc = c.doc;
  let op;
  // Alternately into the two text fields, as tablecast's side does (its
  // number cells are decimal strings, which na cannot add to).
  // With --deletes every third op deletes a character instead (if there
  // is one), as tablecast's side does.
  const key = opts.fieldKeys[c.next];
  const text = doc.data.fields[key];
  c.count = (c.count || 0) + 1;
  if (opts.deletes && c.count % 3 === 0 && text.length > 0) {
    const k = Math.floor(Math.random() * text.length); // 0..len-1
    op = [{ p: ['fields', key, k], sd: text[k] }];
  } else {
    const k = Math.floor(Math.random() * (text.length + 1)); // 0..len inclusive
    op = [{ p: ['fields', key, k], si: 'x' }];
  }
  c.next ^= 1;
  issued++;
  c.inflight = true;
  const t = performance.now();
  doc.submitOp(op, (err) => {
    const now = performance.now();
    c.inflight = false;
    if (err) {
      if (!loadError) loadError = new Error(`submitOp failed on client ${c.i} (doc ${c.id}): ${err.message || err}`);
      c.running = false;
      if (stopLoad) stopLoad('error');
      return;
    }
    ackedTotal++;
    if (measuring) {
      acked++;
      latencies.push(now - t);
    }
    issue(c);
  });
}

async function main() {
  log(`sharedb ${SHAREDB_VERSION}, node ${process.version}; ${opts.clients} clients on ${opts.docs} docs, ` +
      `duration ${opts.duration} s (first ${opts.warmup} s warm-up)${opts.ops ? `, at most ${opts.ops} ops` : ''}`);

  let url = opts.target;
  if (!url) {
    const port = await withTimeout(startServer(), 10000, 'starting the ShareDB server');
    url = `ws://127.0.0.1:${port}`;
    log(`server pid ${child.pid} listening on ${url}`);
  } else {
    log(`target ${url.replace(/token=[^&]*/, 'token=...')}, ${opts.collection} ${opts.docIDs.join(',')}`);
  }

  // Clients: one WebSocket + Connection each, subscribed to doc (i % D) + 1.
  const clients = [];
  const setup = [];
  for (let i = 0; i < opts.clients; i++) {
    const id = opts.docIDs[i % opts.docs];
    setup.push(openConnection(url).then(async (conn) => {
      const doc = conn.get(opts.collection, id);
      doc.on('error', (e) => { if (!loadError) loadError = new Error(`doc error on client ${i}: ${e.message || e}`); if (stopLoad) stopLoad('error'); });
      await docPromise(doc, 'subscribe');
      if (!doc.type || !doc.data || opts.fieldKeys.some((k) => typeof doc.data.fields[k] !== 'string')) {
        throw new Error(`client ${i}: document ${id} missing or malformed after subscribe`);
      }
      clients[i] = { i, id, conn, doc, next: i % 2, running: false, inflight: false };
    }));
  }
  await withTimeout(Promise.all(setup), 20000, 'connecting and subscribing clients');
  log(`${opts.clients} clients connected and subscribed`);

  // The clients' CPU over the measured window, as the server's.
  let clientCpu0 = process.cpuUsage();
  let clientCpu = null;
  // With --postgres, PostgreSQL's CPU over the same window.
  let dbCpu0 = null;
  let dbCpu = null;
  let marked = null;
  let stopReason = '';

  await new Promise((resolve) => {
    const start = performance.now();
    let warmTimer = null;
    let progressTimer = null;
    let lastAcked = 0;
    let lastT = start;
    const openWindow = () => {
      if (child) child.send({ type: 'mark_start' });
      windowStart = performance.now();
      clientCpu0 = process.cpuUsage();
      if (opts.postgres) dbCpu0 = postgresCPU();
      measuring = true;
      log(`warm-up done after ${opts.warmup} s, measuring`);
    };
    stopLoad = (reason) => {
      if (stopping) return;
      stopping = true;
      stopReason = reason;
      windowEnd = performance.now();
      clientCpu = process.cpuUsage(clientCpu0);
      if (dbCpu0 != null) dbCpu = postgresCPU() - dbCpu0;
      const wasMeasuring = measuring;
      measuring = false;
      clearTimeout(stopTimer);
      clearTimeout(warmTimer);
      clearInterval(progressTimer);
      if (!wasMeasuring) windowStart = windowEnd;
      resolve();
    };
    const stopTimer = setTimeout(() => stopLoad('duration'), opts.duration * 1000);
    if (opts.warmup > 0) warmTimer = setTimeout(openWindow, opts.warmup * 1000);
    else openWindow();
    progressTimer = setInterval(() => {
      const now = performance.now();
      const rate = (ackedTotal - lastAcked) / ((now - lastT) / 1000);
      lastAcked = ackedTotal;
      lastT = now;
      log(`t=${((now - start) / 1000).toFixed(1)} s  ${rate.toFixed(0)} acked ops/s${measuring ? '' : ' (warm-up)'}`);
    }, 1000);
    for (const c of clients) {
      c.running = true;
      issue(c);
    }
  });
  if (loadError) throw loadError;
  if (windowEnd - windowStart <= 0) throw new Error('the run ended during the warm-up: nothing was measured');
  // The window was closed the moment issuing stopped; fetch the server-side
  // figures for exactly that window.
  marked = child ? await childRequest({ type: 'mark_end' }, 'marked', 5000)
    : { transforms: clientTransforms, transform_pairs: clientTransformPairs, cpu_s: null, committed: null, retries: null };
  const windowS = (windowEnd - windowStart) / 1000;
  log(`stopped (${stopReason}) after ${issued} ops issued; draining`);

  // Drain: every client's in-flight op must be acked, nothing pending.
  const drainStart = Date.now();
  const drainLimit = Math.min(15000, remainingMs(8000));
  while (clients.some((c) => c.inflight || c.doc.hasWritePending())) {
    if (loadError) throw loadError;
    if (Date.now() - drainStart > drainLimit) {
      const n = clients.filter((c) => c.inflight || c.doc.hasWritePending()).length;
      throw new Error(`${n} clients still had ops pending ${drainLimit} ms after the load stopped`);
    }
    await sleep(10);
  }
  if (loadError) throw loadError;
  log(`drained in ${Date.now() - drainStart} ms`);

  // Wait until every client has caught up with the server's version.
  const server = await withTimeout(fetchSnapshots(url), 5000, 'fetching server versions');
  const catchStart = Date.now();
  const catchLimit = Math.min(10000, remainingMs(5000));
  let behind = 0;
  for (;;) {
    behind = clients.filter((c) => c.doc.version !== server[opts.docIDs.indexOf(c.id)].v).length;
    if (behind === 0 || Date.now() - catchStart > catchLimit) break;
    await sleep(10);
  }
  if (behind) log(`${behind} clients did not reach the server's version within ${catchLimit} ms`);
  else log(`all clients at the server's version after ${Date.now() - catchStart} ms`);

  // Final check: a fresh connection fetches every document; each client's
  // copy must equal it.
  const final = await withTimeout(fetchSnapshots(url), 5000, 'final fetch');
  let mismatches = 0;
  for (const c of clients) {
    const snap = final[opts.docIDs.indexOf(c.id)];
    if (c.doc.version !== snap.v || !isDeepStrictEqual(c.doc.data, snap.data)) {
      mismatches++;
      if (mismatches <= 3) {
        log(`mismatch: client ${c.i} doc ${c.id} at v${c.doc.version}, server v${snap.v}`);
      }
    }
  }
  const totals = child ? await childRequest({ type: 'stats' }, 'stats', 5000) : { transforms: null, rss_mb: null };

  latencies.sort((a, b) => a - b);
  const result = {
    engine: opts.target ? 'sharedb-client' : 'sharedb',
    target: opts.target ? opts.target.replace(/\?.*$/, '') : undefined,
    sharedb_version: SHAREDB_VERSION,
    node_version: process.version,
    clients: opts.clients,
    docs: opts.docs,
    duration_s: r3(windowS),
    acked_ops: acked,
    acked_ops_per_s: r3(acked / windowS),
    transforms: marked.transforms,
    transforms_per_s: r3(marked.transforms / windowS),
    p50_ms: r3(percentile(latencies, 50)),
    p99_ms: r3(percentile(latencies, 99)),
    max_ms: r3(latencies.length ? latencies[latencies.length - 1] : 0),
    converged: mismatches === 0,
    mismatches,
    server_cpu_s: marked.cpu_s == null ? null : r3(marked.cpu_s),
    store: opts.postgres ? 'postgres' : (opts.target ? undefined : 'memory'),
    db_cpu_s: dbCpu == null ? null : r3(dbCpu),
    // Extras (not in the minimal contract):
    warmup_s: opts.warmup,
    stop_reason: stopReason,
    issued_ops_total: issued,
    acked_ops_total: ackedTotal,
    transform_pairs: marked.transform_pairs,
    server_commits: marked.committed,
    server_commit_retries: marked.retries,
    server_transforms_total: totals.transforms,
    client_cpu_s: r3((clientCpu.user + clientCpu.system) / 1e6),
    server_rss_mb: totals.rss_mb == null ? null : r3(totals.rss_mb),
    final_versions: final.map((s) => s.v),
    sharedb_client_warnings: sharedbWarnings,
  };

  log(`acked ${acked} ops in ${windowS.toFixed(2)} s = ${result.acked_ops_per_s.toFixed(0)} ops/s; ` +
      `transforms ${marked.transforms} (${result.transforms_per_s.toFixed(0)}/s); ` +
      `latency p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms; ` +
      `server cpu ${result.server_cpu_s == null ? 'n/a' : result.server_cpu_s + ' s'}; converged ${result.converged} (${mismatches} mismatching clients)`);

  const json = JSON.stringify(result);
  if (opts.json) fs.writeFileSync(opts.json, json + '\n');
  finished = true;
  clearTimeout(hardTimer);
  closeClients();
  killChild();
  const code = result.converged ? 0 : 3;
  if (code) process.stderr.write('sharedb peer: clients did not converge\n');
  process.stdout.write(json + '\n', () => process.exit(code));
}

main().catch((e) => die(e && e.message || String(e)));
