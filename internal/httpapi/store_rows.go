package httpapi

import (
	"net/http"
	"strconv"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
)

// Rows, views and public views.

// itemsAnswer is the answer of a batch create or update.
type itemsAnswer struct {
	Items []event.Row `json:"items"`
}

// listInput reads the query of a row listing.
func listInput(r *http.Request) (service.ListRowsInput, error) {
	q := r.URL.Query()
	details := map[string]string{}
	in := service.ListRowsInput{
		ViewID: queryInt(r, "view", details),
		Filter: q.Get("filter"),
		Sort:   q.Get("sort"),
		Search: q.Get("search"),
		Limit:  int(queryInt(r, "limit", details)),
		Cursor: q.Get("cursor"),
	}
	if s := q.Get("limit"); s != "" && details["limit"] == "" && in.Limit == 0 {
		details["limit"] = "must be from 1 to " + strconv.Itoa(service.MaxLimit)
	}
	if len(details) > 0 {
		return in, badRequest(details)
	}
	return in, nil
}

func (a *StoreAPI) listRows(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	in, err := listInput(r)
	if err != nil {
		return nil, err
	}
	return a.Service.ListRows(r.Context(), u, id, in)
}

func (a *StoreAPI) getRow(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	t, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	row, err := pathID(r, "r", "row")
	if err != nil {
		return nil, err
	}
	return a.Service.GetRow(r.Context(), u, t, row)
}

// createRows takes one row {fields} or a batch {items:[{fields}...]}, placed
// before the row ?before= (at the end without it).
func (a *StoreAPI) createRows(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	details := map[string]string{}
	before := queryInt(r, "before", details)
	if len(details) > 0 {
		return nil, badRequest(details)
	}
	var body struct {
		Fields service.RowFields `json:"fields"`
		Items  *[]struct {
			Fields service.RowFields `json:"fields"`
		} `json:"items"`
	}
	if err := a.decode(w, r, &body); err != nil {
		return nil, err
	}
	if body.Items == nil {
		return a.Service.CreateRow(r.Context(), u, id, body.Fields, before)
	}
	if body.Fields != nil {
		return nil, badRequest(map[string]string{"body": "give fields (one row) or items (a batch), not both"})
	}
	items := make([]service.RowFields, len(*body.Items))
	for i, it := range *body.Items {
		items[i] = it.Fields
	}
	return a.Service.CreateRows(r.Context(), u, id, items, before)
}

func (a *StoreAPI) updateRow(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	t, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	row, err := pathID(r, "r", "row")
	if err != nil {
		return nil, err
	}
	var body struct {
		Fields  service.RowFields `json:"fields"`
		Version int64             `json:"version"`
	}
	if err := a.decode(w, r, &body); err != nil {
		return nil, err
	}
	return a.Service.UpdateRow(r.Context(), u, t, service.RowPatch{ID: row, Fields: body.Fields, Version: body.Version})
}

func (a *StoreAPI) updateRows(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	var body struct {
		Items []service.RowPatch `json:"items"`
	}
	if err := a.decode(w, r, &body); err != nil {
		return nil, err
	}
	rows, err := a.Service.UpdateRows(r.Context(), u, id, body.Items)
	return itemsAnswer{Items: rows}, err
}

func (a *StoreAPI) deleteRow(_ http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	t, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	row, err := pathID(r, "r", "row")
	if err != nil {
		return nil, err
	}
	return noContent{}, a.Service.DeleteRow(r.Context(), u, t, row)
}

func (a *StoreAPI) deleteRows(w http.ResponseWriter, r *http.Request, u service.Actor) (any, error) {
	id, err := pathID(r, "t", "table")
	if err != nil {
		return nil, err
	}
	var body struct {
		IDs []int64 `json:"ids"`
	}
	if err := a.decode(w, r, &body); err != nil {
		return nil, err
	}
	return noContent{}, a.Service.DeleteRows(r.Context(), u, id, body.IDs)
}

// publicRows lists a public view's rows; a password-protected view needs
// the token of publicAuth as Authorization: Bearer <token>.
func (a *StoreAPI) publicRows(_ http.ResponseWriter, r *http.Request) (any, error) {
	in, err := listInput(r)
	if err != nil {
		return nil, err
	}
	return a.Service.PublicRows(r.Context(), r.PathValue("slug"), bearer(r), in)
}

func (a *StoreAPI) publicAuth(w http.ResponseWriter, r *http.Request) (any, error) {
	var body struct {
		Password string `json:"password"`
	}
	if err := a.decode(w, r, &body); err != nil {
		return nil, err
	}
	return a.Service.PublicViewAuth(r.Context(), r.PathValue("slug"), body.Password)
}
