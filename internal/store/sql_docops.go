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
	var args []any
	for start := 0; start < len(ops); {
		k := appendChunk(len(ops) - start)
		end := start + 1<<k
		args = args[:0]
		for _, o := range ops[start:end] {
			if o.Collection == "" || o.DocID <= 0 || o.Version < 0 || o.Seq > math.MaxInt64 || o.Offset > math.MaxInt64 {
				return fmt.Errorf("%w: op log entry %s/%d@%d", ErrInvalid, o.Collection, o.DocID, o.Version)
			}
			op, ok := objectText(o.Op)
			if !ok {
				return fmt.Errorf("%w: op of %s/%d@%d must be a JSON object", ErrInvalid, o.Collection, o.DocID, o.Version)
			}
			args = append(args, o.Collection, o.DocID, o.Version, op, o.Src, int64(o.Seq), int64(o.Offset), ts)
		}
		if _, err := t.q.exec(ctx, t.d.q.docOpRows[k], args...); err != nil {
			return t.d.mapErr(err, fmt.Sprintf("op log of %s/%d", ops[start].Collection, ops[start].DocID))
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
