package baserow

import (
	"context"
	"strconv"
)

// rowPage is {"page":"row","table_id":T,"row_id":R}: the updates and the
// deletion of one row, for a member of the table's workspace, when the row
// exists.
type rowPage struct{}

func (rowPage) name() string { return "row" }

func (rowPage) parse(m message, p *page) bool {
	var e echoParams
	t, okT := m.id("table_id")
	e.add(m, "table_id", okT, func(w *buf) { w.int(t) })
	r, okR := m.id("row_id")
	e.add(m, "row_id", okR, func(w *buf) { w.int(r) })
	p.echo = e.done()
	p.tableID, p.rowID = t, r
	p.key = "row:" + strconv.FormatInt(t, 10) + "/" + strconv.FormatInt(r, 10)
	return okT && okR
}

func (rowPage) authorize(ctx context.Context, env pageEnv, p *page) error {
	if env.anonymous {
		return errForbidden
	}
	if err := storeRefusal(env.store.RowAccess(ctx, env.userID, p.tableID, p.rowID)); err != nil {
		return err
	}
	p.collection = rowCollection(p.tableID)
	p.document = strconv.FormatInt(p.rowID, 10)
	return nil
}
