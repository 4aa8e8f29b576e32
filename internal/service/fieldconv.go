package service

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// convertValue converts a stored value of field from into the value field
// to holds, as Baserow converts on a type change; what does not convert
// becomes the empty value (to's DefaultValue). The rules:
//
//   - select to select: the choices that still exist in to, by id (a
//     multiple_select becoming a single_select keeps the first);
//   - select to anything else: the choice values joined by ", ", then
//     read as that type;
//   - anything else to a select: the text, matched to a choice value
//     (for a multiple_select, each comma-separated part);
//   - boolean to another type: true is "true", false is empty;
//   - otherwise the stored value is normalised again: text parses as a
//     number, date or boolean word; a number rounds to the new decimals; a
//     date gains or loses its time; text longer than the new limit empties.
func convertValue(from, to *table.Field, raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return to.DefaultValue()
	}
	var in json.RawMessage
	switch {
	case from.Type.IsSelect() && to.Type.IsSelect():
		var ids []int64
		for _, c := range from.SelectedChoices(raw) {
			if _, ok := to.Choice(c.ID); ok {
				ids = append(ids, c.ID)
			}
		}
		return choiceValue(to, ids)
	case from.Type.IsSelect():
		var vals []string
		for _, c := range from.SelectedChoices(raw) {
			vals = append(vals, c.Value)
		}
		if len(vals) == 0 {
			return to.DefaultValue()
		}
		in, _ = json.Marshal(strings.Join(vals, ", "))
	case from.Type == table.TypeNumber && to.Type != table.TypeNumber:
		// a number reads with its decimals ("2.50"), as the field shows it
		in = raw
		if s, ok := table.FormatNumber(raw, from.Options.Decimals); ok {
			in, _ = json.Marshal(s)
		}
	case from.Type == table.TypeBoolean && to.Type != table.TypeBoolean:
		if string(raw) != "true" {
			return to.DefaultValue()
		}
		in = json.RawMessage(`"true"`)
	default:
		in = raw
	}
	if to.Type.IsSelect() && !from.Type.IsSelect() {
		var text string
		if json.Unmarshal(in, &text) != nil {
			text = string(in) // a number or other scalar: its JSON text
		}
		parts := []string{text}
		if to.Type == table.TypeMultipleSelect {
			parts = strings.Split(text, ",")
		}
		var ids []int64
		for _, p := range parts {
			p = strings.TrimSpace(p)
			for _, c := range to.Options.Choices {
				if c.Value == p {
					ids = append(ids, c.ID)
					break
				}
			}
		}
		return choiceValue(to, ids)
	}
	out, err := to.Normalize(in)
	if err != nil {
		return to.DefaultValue()
	}
	return out
}

// choiceValue is the stored value of a select holding ids.
func choiceValue(f *table.Field, ids []int64) json.RawMessage {
	if f.Type == table.TypeSingleSelect {
		if len(ids) == 0 {
			return json.RawMessage("null")
		}
		return strconv.AppendInt(nil, ids[0], 10)
	}
	seen := make(map[int64]bool, len(ids))
	out := []byte{'['}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		if len(seen) > 0 {
			out = append(out, ',')
		}
		seen[id] = true
		out = strconv.AppendInt(out, id, 10)
	}
	return append(out, ']')
}

// conversion is the plan of converting one field's stored values.
type conversion struct {
	fieldID int64
	ids     []int64
	before  []store.Row
	updates []store.RowUpdate
}

// scanBatch is how many rows a scan of a table reads at a time.
const scanBatch = 1000

// convertRows reads the table's rows and plans the update of every row whose
// value of the field changes from field from to field to.
func convertRows(ctx context.Context, r store.Reader, tableID int64, from, to *table.Field) (*conversion, error) {
	c := &conversion{fieldID: to.ID}
	key := strconv.FormatInt(to.ID, 10)
	var after store.RowCursor
	for {
		rows, err := r.Rows(ctx, tableID, after, scanBatch)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			vals, err := decodeValues(row.Values)
			if err != nil {
				return nil, err
			}
			raw, ok := vals[to.ID]
			if !ok {
				continue // an empty cell stays empty
			}
			nv := convertValue(from, to, raw)
			if event.SameJSON(raw, nv) {
				continue
			}
			patch, _ := json.Marshal(map[string]json.RawMessage{key: nv})
			c.ids = append(c.ids, row.ID)
			c.before = append(c.before, row)
			c.updates = append(c.updates, store.RowUpdate{ID: row.ID, Values: patch})
		}
		if len(rows) < scanBatch {
			return c, nil
		}
		after = rows[len(rows)-1].Cursor()
	}
}

// apply writes the planned updates and announces them, MaxBatch rows per
// rows_updated event.
func (c *conversion) apply(w *writeTx, t store.Table, before, after *schema) error {
	for start := 0; start < len(c.updates); start += MaxBatch {
		end := min(start+MaxBatch, len(c.updates))
		rows, err := w.UpdateRows(w.ctx, t.ID, c.updates[start:end])
		if err != nil {
			return err
		}
		afterRows, err := rowsOut(rows, after)
		if err != nil {
			return err
		}
		beforeRows, err := rowsOut(c.before[start:end], before)
		if err != nil {
			return err
		}
		if err := w.emit(store.TableStream(t.ID), event.EventRowsUpdated, event.RowsUpdated{
			TableMeta: w.tableMeta(t), Rows: afterRows, RowsBefore: beforeRows,
			UpdatedFieldIDs: []int64{c.fieldID}, FieldConversion: true, Decimals: after.decimals(),
		}); err != nil {
			return err
		}
	}
	return nil
}
