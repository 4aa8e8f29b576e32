package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// docOpsChunk is the most op log entries one INSERT carries (8 parameters
// each, under SQLite's and PostgreSQL's parameter limits).
const docOpsChunk = 500

// AppendDocOps writes the op log entries with multi-row INSERTs.
func (t *sqlTx) AppendDocOps(ctx context.Context, ops []DocOp) error {
	ts := now()
	for start := 0; start < len(ops); start += docOpsChunk {
		end := min(start+docOpsChunk, len(ops))
		var b strings.Builder
		b.WriteString(`INSERT INTO doc_ops (collection, doc_id, version, op, src, seq, stream_offset, created_at) VALUES `)
		args := make([]any, 0, (end-start)*8)
		for i := start; i < end; i++ {
			o := ops[i]
			if o.Collection == "" || o.DocID <= 0 || o.Version < 0 || o.Seq > math.MaxInt64 || o.Offset > math.MaxInt64 {
				return fmt.Errorf("%w: op log entry %s/%d@%d", ErrInvalid, o.Collection, o.DocID, o.Version)
			}
			op, err := jsonObject(o.Op, fmt.Sprintf("op of %s/%d@%d", o.Collection, o.DocID, o.Version))
			if err != nil {
				return err
			}
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?)`)
			args = append(args, o.Collection, o.DocID, o.Version, op, o.Src, int64(o.Seq), int64(o.Offset), t.d.ts(ts))
		}
		if _, err := t.q.exec(ctx, t.d.sql(b.String()), args...); err != nil {
			return t.d.mapErr(err, fmt.Sprintf("op log of %s/%d", ops[start].Collection, ops[start].DocID))
		}
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
