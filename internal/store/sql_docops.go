package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
)

// docOpsChunk is the most op log entries one INSERT carries (8 parameters
// each, well under SQLite's and PostgreSQL's parameter limits).
const docOpsChunk = 1 << (appendLevels - 1)

// AppendDocOps writes the op log entries with multi-row INSERTs of a few
// fixed sizes (appendChunk).
func (t *sqlTx) AppendDocOps(ctx context.Context, ops []DocOp) error {
	ts := t.d.ts(now())
	if t.d.q.docOpsBulk != "" && len(ops) > 0 {
		return t.appendDocOpsBulk(ctx, ops, ts)
	}
	return t.insertRows(ctx, &t.d.q.docOpRows, len(ops), func(args []any, i int) ([]any, error) {
		o := ops[i]
		op, err := checkDocOp(o)
		if err != nil {
			return nil, err
		}
		return append(args, o.Collection, o.DocID, o.Version, op, o.Src, int64(o.Seq), int64(o.Offset), ts), nil
	}, func(start, _ int) string {
		return fmt.Sprintf("op log of %s/%d", ops[start].Collection, ops[start].DocID)
	})
}

// checkDocOp checks an op log entry and returns its op's text.
func checkDocOp(o DocOp) (string, error) {
	if o.Collection == "" || o.DocID <= 0 || o.Version < 0 || o.Seq > math.MaxInt64 || o.Offset > math.MaxInt64 {
		return "", fmt.Errorf("%w: op log entry %s/%d@%d", ErrInvalid, o.Collection, o.DocID, o.Version)
	}
	op, ok := objectText(o.Op)
	if !ok {
		return "", fmt.Errorf("%w: op of %s/%d@%d must be a JSON object", ErrInvalid, o.Collection, o.DocID, o.Version)
	}
	return op, nil
}

// appendDocOpsBulk writes the entries in one statement (docOpsBulk).
func (t *sqlTx) appendDocOpsBulk(ctx context.Context, ops []DocOp, ts any) error {
	n := len(ops)
	cols, srcs, texts := make([]string, n), make([]string, n), make([]string, n)
	docs, versions, seqs, offs := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, o := range ops {
		op, err := checkDocOp(o)
		if err != nil {
			return err
		}
		cols[i], docs[i], versions[i], texts[i], srcs[i], seqs[i], offs[i] = o.Collection, o.DocID, o.Version, op, o.Src, int64(o.Seq), int64(o.Offset)
	}
	_, err := t.q.exec(ctx, t.d.q.docOpsBulk, ts, cols, docs, versions, texts, srcs, seqs, offs)
	return t.d.mapErr(err, fmt.Sprintf("op log of %s/%d and %d more", ops[0].Collection, ops[0].DocID, n-1))
}

// insertRows writes n rows with the multi-row INSERTs stmts (stmts[k]
// inserts 1<<k rows; appendChunk picks them), row appending the i-th
// row's arguments; what names the rows start to end in an error.
func (t *sqlTx) insertRows(ctx context.Context, stmts *[appendLevels]string, n int,
	row func(args []any, i int) ([]any, error), what func(start, end int) string) error {
	var args []any
	for start := 0; start < n; {
		k := appendChunk(n - start)
		end := start + 1<<k
		args = args[:0]
		for i := start; i < end; i++ {
			var err error
			if args, err = row(args, i); err != nil {
				return err
			}
		}
		if _, err := t.q.exec(ctx, stmts[k], args...); err != nil {
			return t.d.mapErr(err, what(start, end))
		}
		start = end
	}
	return nil
}

func scanDocOp(s scanner) (o DocOp, err error) {
	var op []byte
	var seq, off int64
	err = s.Scan(&o.Collection, &o.DocID, &o.Version, &op, &o.Src, &seq, &off, tsDest{&o.CreatedAt})
	o.Op, o.Seq, o.Offset = json.RawMessage(op), uint64(seq), uint64(off)
	return o, err
}

func (r *sqlReader) DocOps(ctx context.Context, collection string, docID int64, fromVersion int64, limit int) ([]DocOp, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	ops, err := queryAll(ctx, r.q, scanDocOp, r.d.q.docOps, collection, docID, fromVersion, limit)
	return ops, r.d.mapErr(err, fmt.Sprintf("op log of %s/%d", collection, docID))
}
