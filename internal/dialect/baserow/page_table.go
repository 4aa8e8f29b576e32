package baserow

import (
	"context"
	"strconv"
)

// tablePage is {"page":"table","table_id":T}: every row, field and view
// event of the table, for a member of its workspace.
type tablePage struct{}

func (tablePage) name() string { return "table" }

func (tablePage) parse(m message, p *page) bool {
	var e echoParams
	id, ok := m.id("table_id")
	e.add(m, "table_id", ok, func(w *buf) { w.int(id) })
	p.echo = e.done()
	p.tableID = id
	p.key = "table:" + strconv.FormatInt(id, 10)
	return ok
}

func (tablePage) authorize(ctx context.Context, env pageEnv, p *page) error {
	if env.anonymous {
		return errForbidden
	}
	if err := storeRefusal(env.store.TableAccess(ctx, env.userID, p.tableID)); err != nil {
		return err
	}
	p.collection = tableCollection(p.tableID)
	return nil
}
