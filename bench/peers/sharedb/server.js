'use strict';
// ShareDB server for the bench peer. run.js forks this file; it must not be
// run by hand. It talks to its parent over the IPC channel only:
//
//   child -> parent  {type:'listening', port}           once ready
//   parent -> child  {type:'mark_start'}                 measured window opens
//   parent -> child  {type:'mark_end'}                   measured window closes
//   child -> parent  {type:'marked', transforms, transform_pairs, cpu_s, ...}
//   parent -> child  {type:'stats'}                      totals for the run
//   child -> parent  {type:'stats', ...}
//
// With SHAREDB_BENCH_POSTGRES set (a connection string), ShareDB keeps its
// ops and snapshots in that PostgreSQL database through sharedb-postgres
// (the share organisation's adapter), whose tables it creates first;
// otherwise in memory.
//
// It exits when the parent goes away (IPC 'disconnect'), so a killed parent
// never leaves a server behind.

const fs = require('fs');
const http = require('http');
const ShareDB = require('sharedb');
const { WebSocketServer } = require('ws');
const WebSocketJSONStream = require('@teamwork/websocket-json-stream');

const COLLECTION = 'record_1';

function fail(msg) {
  process.stderr.write(`sharedb-server: ${msg}\n`);
  process.exit(1);
}

if (!process.send) fail('must be started by run.js (needs an IPC channel)');

const docs = Number(process.env.SHAREDB_BENCH_DOCS);
if (!Number.isInteger(docs) || docs < 1) fail('SHAREDB_BENCH_DOCS must be a positive integer');

process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => fail(`uncaught: ${err && err.stack || err}`));

const postgres = process.env.SHAREDB_BENCH_POSTGRES || '';

// The in-memory db and pubsub, or sharedb-postgres with the in-memory
// pubsub (one server); json0 either way.
let backend;

// Transform accounting. The 'submit' middleware sees the op with the version
// the client based it on; by 'apply' time ShareDB has already transformed it
// up to the snapshot version (op.v is rewritten), so the base version is
// remembered here and compared once the write is done.
let staleOps = 0;   // ops that arrived stale, i.e. were transformed (>=1 time)
let pairs = 0;      // op-vs-op transforms performed (sum of missed ops)
let committed = 0;  // successful writes
let retries = 0;    // commit races retried by ShareDB

function countTransforms() {
  // ShareDB passes the SubmitRequest itself as the middleware context.
  backend.use('submit', (req, next) => {
    if (req.op) req.custom.baseV = req.op.v;
    next();
  });
  backend.use('afterWrite', countWrite);
}

function countWrite(req, next) {
  committed++;
  // request.ops: the committed ops the submitted op was transformed against
  // (accumulates across retries); op.v is now the version it was applied at.
  const baseV = req.custom.baseV;
  const missed = req.ops ? req.ops.length : 0;
  if (missed > 0 || (baseV != null && req.op && baseV < req.op.v)) staleOps++;
  pairs += missed;
  if (req.retries) retries += req.retries;
  next();
}

let mark = null;

process.on('message', (msg) => {
  if (!msg || typeof msg !== 'object') return;
  switch (msg.type) {
    case 'mark_start':
      mark = { cpu: process.cpuUsage(), stale: staleOps, pairs, committed, retries };
      break;
    case 'mark_end': {
      if (!mark) mark = { cpu: { user: 0, system: 0 }, stale: 0, pairs: 0, committed: 0, retries: 0 };
      const cpu = process.cpuUsage(mark.cpu);
      process.send({
        type: 'marked',
        transforms: staleOps - mark.stale,
        transform_pairs: pairs - mark.pairs,
        committed: committed - mark.committed,
        retries: retries - mark.retries,
        cpu_s: (cpu.user + cpu.system) / 1e6,
      });
      break;
    }
    case 'stats': {
      const cpu = process.cpuUsage();
      process.send({
        type: 'stats',
        transforms: staleOps,
        transform_pairs: pairs,
        committed,
        retries,
        cpu_s: (cpu.user + cpu.system) / 1e6,
        rss_mb: process.memoryUsage().rss / (1 << 20),
      });
      break;
    }
    default:
      break;
  }
});

function createDocs(callback) {
  const conn = backend.connect();
  let left = docs;
  let failed = false;
  for (let n = 1; n <= docs; n++) {
    const doc = conn.get(COLLECTION, String(n));
    const data = {
      id: n,
      order: `${n}.00000000000000000000`,
      fields: { 1: '', 2: '' },
    };
    doc.create(data, 'json0', (err) => {
      if (failed) return;
      if (err) {
        failed = true;
        return callback(err);
      }
      if (--left === 0) {
        conn.close();
        callback(null);
      }
    });
  }
}

// The adapter's own schema (its structure.sql), run once on the fresh
// database the bench made for this run.
async function openPostgres() {
  const PostgresDB = require('sharedb-postgres');
  const { Client } = require('pg');
  const sql = fs.readFileSync(require.resolve('sharedb-postgres/structure.sql'), 'utf8');
  const c = new Client({ connectionString: postgres });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
  return new PostgresDB({ connectionString: postgres });
}

async function openBackend() {
  backend = postgres ? new ShareDB({ db: await openPostgres() }) : new ShareDB();
  countTransforms();
}

openBackend().then(() => createDocs(serve), (err) => fail(`opening PostgreSQL: ${err.message || err}`));

function serve(err) {
  if (err) fail(`creating documents: ${err.message || err}`);
  const server = http.createServer((req, res) => {
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    const stream = new WebSocketJSONStream(ws);
    // A client going away mid-write is not a server failure.
    stream.on('error', () => {});
    backend.listen(stream, req);
  });
  server.on('error', (e) => fail(`listen: ${e.message}`));
  server.listen(0, '127.0.0.1', () => {
    process.send({ type: 'listening', port: server.address().port });
  });
}
