// Differential-test harness for internal/ot/json0: runs the reference
// ot-json0 implementation on cases streamed by the Go test.
//
// Input: one JSON object per line, {"doc": ..., "a": [...], "b": [...]}.
// Output: one JSON object per line, in the same order:
//   {"apply_a", "apply_b", "a_over_b_left", "b_over_a_right",
//    "final_ab", "final_ba", "error"?}
// where final_ab = apply(apply(doc, a), b_over_a_right) and
//       final_ba = apply(apply(doc, b), a_over_b_left).
// "error" holds the first exception's message; fields computed before it stay.
'use strict';

const readline = require('readline');
const json0 = require('ot-json0').type;

const copy = (v) => JSON.parse(JSON.stringify(v));

function run(c) {
  const out = {};
  try {
    out.apply_a = json0.apply(copy(c.doc), copy(c.a));
    out.apply_b = json0.apply(copy(c.doc), copy(c.b));
    out.a_over_b_left = json0.transform(copy(c.a), copy(c.b), 'left');
    out.b_over_a_right = json0.transform(copy(c.b), copy(c.a), 'right');
    out.final_ab = json0.apply(copy(out.apply_a), copy(out.b_over_a_right));
    out.final_ba = json0.apply(copy(out.apply_b), copy(out.a_over_b_left));
  } catch (e) {
    out.error = String(e && e.message ? e.message : e);
  }
  return out;
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const chunks = [];
rl.on('line', (line) => {
  if (line.trim() === '') return;
  let out;
  try {
    out = run(JSON.parse(line));
  } catch (e) {
    out = { error: 'bad case: ' + e.message };
  }
  chunks.push(JSON.stringify(out));
  if (chunks.length >= 256) {
    process.stdout.write(chunks.join('\n') + '\n');
    chunks.length = 0;
  }
});
rl.on('close', () => {
  if (chunks.length) process.stdout.write(chunks.join('\n') + '\n');
});
