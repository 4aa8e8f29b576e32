// Package event is the contract between the service, which makes events,
// and the dialects, the webhooks and the HTTP API, which render them: the
// event names and payloads, their decoding, the documents an event changes
// (DocChanges), the document collections (Collection) and the model types
// the payloads carry. It imports only the pure packages (table, ot/json0)
// and the standard library.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/tablecast/tablecast/internal/table"
)

// The event types, Baserow's names where Baserow has the event. Row, field
// and view events, table_updated and table_deleted (as the stream's last
// event) go to the table's stream; table, workspace and member events to
// the workspace's.
const (
	EventRowsCreated      = "rows_created"
	EventRowsUpdated      = "rows_updated"
	EventRowsDeleted      = "rows_deleted"
	EventFieldCreated     = "field_created"
	EventFieldUpdated     = "field_updated"
	EventFieldDeleted     = "field_deleted"
	EventViewCreated      = "view_created"
	EventViewUpdated      = "view_updated"
	EventViewDeleted      = "view_deleted"
	EventTableCreated     = "table_created"
	EventTableUpdated     = "table_updated"
	EventTableDeleted     = "table_deleted"
	EventWorkspaceCreated = "workspace_created"
	EventWorkspaceUpdated = "workspace_updated"
	EventWorkspaceDeleted = "workspace_deleted"
	EventMemberAdded      = "member_added"
	EventMemberUpdated    = "member_updated"
	EventMemberRemoved    = "member_removed"
)

// EventWebhookPaused goes to a table's stream when one of its webhooks
// pauses, so that the table's subscribers hear of it in order, with an
// offset like any change.
const EventWebhookPaused = "webhook_paused"

// WebhookPaused is webhook_paused.
type WebhookPaused struct {
	TableMeta
	WebhookID int64  `json:"webhook_id"`
	Reason    string `json:"reason"`
	// Offset is the webhook's delivered offset: it stopped at the event
	// after it.
	Offset uint64 `json:"offset"`
}

// Event payloads are self-contained: a renderer never needs to read the
// store to turn one into a message. Rows are whole (every field of the
// table, empty cells with their default value), fields and views are their
// REST shapes (a view without its password hash).

// TableMeta heads every event about a table.
type TableMeta struct {
	TableID     int64  `json:"table_id"`
	WorkspaceID int64  `json:"workspace_id"`
	Actor       string `json:"actor"`  // the user id who made the change
	Origin      string `json:"origin"` // the X-WebSocket-Id of the request, "" if none
	// Src and Seq identify the submit that made the change ("" and 0 for
	// a REST write): the op log keeps them so that a resent op is
	// recognised.
	Src string `json:"src,omitempty"`
	Seq uint64 `json:"seq,omitempty"`
	// Reply, on an event a submit (an op or a delete) made, says what the
	// submitter's connection (Origin) is to receive in the place of its
	// document's change: its acknowledgement, rendered by its dialect, in
	// version order with the document's other ops. It comes last: the
	// members before it are read without decoding the payload.
	Reply *SubmitReply `json:"reply,omitempty"`
}

// SubmitReply is an event's acknowledgement of the submit that made it.
type SubmitReply struct {
	Collection string `json:"c"` // record_T, field_T or view_T
	Doc        int64  `json:"d"`
	// Tag is the submitter's dialect's own (Submission.Tag): its name and
	// what its reply needs ("native:<request id>", "sharedb:<spelling of
	// the collection>"), so that each dialect renders only its own.
	Tag string `json:"t,omitempty"`
	// Fixup is SubmitResult.Fixup, a json0 op.
	Fixup json.RawMessage `json:"f,omitempty"`
}

// ReplyTo is the acknowledgement an event carries for the change of
// document doc of collection col, if it carries one.
func (m TableMeta) ReplyTo(col string, doc int64) *SubmitReply {
	if r := m.Reply; r != nil && r.Collection == col && r.Doc == doc {
		return r
	}
	return nil
}

// SubmitID is the submit that made the change: "" and 0 for a REST write.
func (m TableMeta) SubmitID() (src string, seq uint64) { return m.Src, m.Seq }

// WorkspaceMeta heads every event about a workspace.
type WorkspaceMeta struct {
	WorkspaceID int64  `json:"workspace_id"`
	Actor       string `json:"actor"`
	Origin      string `json:"origin"`
}

// RowsCreated is rows_created: one event for a whole batch.
type RowsCreated struct {
	TableMeta
	Rows []Row `json:"rows"`
	// BeforeRowID is the row they were placed before; nil at the end.
	BeforeRowID *int64 `json:"before_row_id"`
	// OrdersShifted is true when the store renumbered the rows from
	// BeforeRowID on to make room: clients holding row orders refetch them.
	OrdersShifted bool     `json:"orders_shifted"`
	Decimals      Decimals `json:"decimals,omitempty"`
}

// Decimals, on a row event, are the decimal places of the table's number
// fields by field id. Number cells are JSON numbers; a dialect that sends
// them as decimal strings with their places (Baserow's "2.50") writes them
// from these, without reading the fields.
type Decimals map[int64]int

// RowsUpdated is rows_updated: the rows after and before the change, in the
// same order, and the ids of the fields given in the request (or converted,
// for a field change), ascending.
//
// A submit's is compact (rowsupdated_compact.go): Op and Row (the row's
// head), no Rows nor RowsBefore, but from time to time (WholeRowAfter)
// it holds the rows whole as a REST write's does. The
// renderers that need whole rows complete it with a RowImager
// (WholeRowsData).
type RowsUpdated struct {
	TableMeta
	// Op, on a change made by a submit (one row), is the json0 op as it
	// was applied: the document dialects send it rather than a diff. It
	// comes before the rows, so that they can read it without going
	// through the rows (EventDocChanges).
	Op json.RawMessage `json:"op,omitempty"`
	// Row, on a compact event, is the changed row's head: its id and
	// version lead it, as they lead the first row of Rows.
	Row             *RowHead `json:"row,omitempty"`
	Rows            []Row    `json:"rows"`
	RowsBefore      []Row    `json:"rows_before"`
	UpdatedFieldIDs []int64  `json:"updated_field_ids"`
	// FieldConversion is set when the rows changed because field
	// updated_field_ids[0] changed type or options.
	FieldConversion bool     `json:"field_conversion,omitempty"`
	Decimals        Decimals `json:"decimals,omitempty"`
}

// RowsDeleted is rows_deleted: the ids, ascending, and the rows as they were.
type RowsDeleted struct {
	TableMeta
	RowIDs   []int64  `json:"row_ids"`
	Rows     []Row    `json:"rows"`
	Decimals Decimals `json:"decimals,omitempty"`
}

// FieldCreated is field_created.
type FieldCreated struct {
	TableMeta
	Field table.Field `json:"field"`
}

// FieldUpdated is field_updated. RelatedFields holds the other fields the
// change updated (the former primary field when this one became primary),
// as they are after it, and RelatedBefore the same fields as they were, in
// the same order; ViewsChanged the views whose filters or hidden
// fields were reconciled with the field's new type or options, as they are
// after, and ViewsBefore the same views as they were, in the same order.
// Every field and view carries its version after the change. Rows whose
// values were converted follow as rows_updated events (field_conversion) in
// the same transaction.
type FieldUpdated struct {
	TableMeta
	Field         table.Field   `json:"field"`
	FieldBefore   table.Field   `json:"field_before"`
	RelatedFields []table.Field `json:"related_fields"`
	RelatedBefore []table.Field `json:"related_before"`
	ViewsChanged  []table.View  `json:"views_changed"`
	ViewsBefore   []table.View  `json:"views_before"`
	RowsConverted int           `json:"rows_converted"`
	// Op, on a change made by a submit, is the json0 op as applied to the
	// field's document.
	Op json.RawMessage `json:"op,omitempty"`
}

// FieldDeleted is field_deleted: the field as it was (with its last
// version), and the views that were updated because they filtered, sorted
// on or hid it: as they are after (their new versions) and, in the same
// order, as they were (ViewsBefore).
type FieldDeleted struct {
	TableMeta
	FieldID      int64        `json:"field_id"`
	Field        table.Field  `json:"field"`
	ViewsChanged []table.View `json:"views_changed"`
	ViewsBefore  []table.View `json:"views_before"`
}

// ViewCreated is view_created.
type ViewCreated struct {
	TableMeta
	View table.View `json:"view"`
}

// ViewUpdated is view_updated, with the view before (a projection needs it
// to tell a filter change from a rename, or a view made private).
type ViewUpdated struct {
	TableMeta
	View       table.View `json:"view"`
	ViewBefore table.View `json:"view_before"`
	// PasswordChanged is set when the update set or changed the view's
	// password: the tokens of the old one are void, and public pages held
	// with them end.
	PasswordChanged bool `json:"password_changed,omitempty"`
	// Op, on a change made by a submit, is the json0 op as applied to the
	// view's document.
	Op json.RawMessage `json:"op,omitempty"`
}

// ViewDeleted is view_deleted, with the view as it was (its slug, so that
// public pages of it can be closed).
type ViewDeleted struct {
	TableMeta
	ViewID int64      `json:"view_id"`
	View   table.View `json:"view"`
}

// TableCreated is table_created, with the table's fields.
type TableCreated struct {
	TableMeta
	Table  Table         `json:"table"`
	Fields []table.Field `json:"fields"`
}

// TableUpdated is table_updated. It goes to the workspace's stream and to
// the table's own, whose subscribers (Baserow's table page) show the
// table's name.
type TableUpdated struct {
	TableMeta
	Table       Table `json:"table"`
	TableBefore Table `json:"table_before"`
}

// TableDeleted is table_deleted. It goes to the workspace's stream and, as
// its last event, to the table's own stream, so that table subscribers learn
// in order that the stream has ended.
type TableDeleted struct {
	TableMeta
	Table Table `json:"table"`
}

// WorkspaceCreated is workspace_created; the creator is its first admin.
type WorkspaceCreated struct {
	WorkspaceMeta
	Workspace Workspace `json:"workspace"`
}

// WorkspaceUpdated is workspace_updated (a rename).
type WorkspaceUpdated struct {
	WorkspaceMeta
	Workspace       Workspace `json:"workspace"`
	WorkspaceBefore Workspace `json:"workspace_before"`
}

// WorkspaceDeleted is workspace_deleted; each of its tables also gets
// table_deleted on its own stream.
type WorkspaceDeleted struct {
	WorkspaceMeta
	Workspace Workspace `json:"workspace"`
	TableIDs  []int64   `json:"table_ids"`
}

// MemberChanged is member_added, member_updated and member_removed: the
// member's user id and role (for a removal, the role they had; for an
// update, RoleBefore is the role they had).
type MemberChanged struct {
	WorkspaceMeta
	UserID     string `json:"user_id"`
	Role       Role   `json:"role"`
	RoleBefore Role   `json:"role_before,omitempty"`
	// TableIDs, on member_removed, are the workspace's tables: the
	// subscriptions every node must end, without asking the store.
	TableIDs []int64 `json:"table_ids,omitempty"`
}

// Lost is, for a member_removed event, what the removed member may no
// longer hold: the workspace's table list (table_W) and the records,
// fields and views of its tables. Each dialect ends its own subscriptions
// with it, on every node, without asking the store.
func (m MemberChanged) Lost() func(Collection) bool {
	tables := make(map[int64]bool, len(m.TableIDs))
	for _, id := range m.TableIDs {
		tables[id] = true
	}
	return func(c Collection) bool {
		if c.Kind == KindTable {
			return c.ID == m.WorkspaceID
		}
		return tables[c.ID]
	}
}

// Decode decodes an event's payload into its type's struct (a pointer:
// *RowsCreated, *FieldUpdated, ...).
func Decode(typ string, payload []byte) (any, error) {
	var v any
	switch typ {
	case EventRowsCreated:
		v = &RowsCreated{}
	case EventRowsUpdated:
		v = &RowsUpdated{}
	case EventRowsDeleted:
		v = &RowsDeleted{}
	case EventFieldCreated:
		v = &FieldCreated{}
	case EventFieldUpdated:
		v = &FieldUpdated{}
	case EventFieldDeleted:
		v = &FieldDeleted{}
	case EventViewCreated:
		v = &ViewCreated{}
	case EventViewUpdated:
		v = &ViewUpdated{}
	case EventViewDeleted:
		v = &ViewDeleted{}
	case EventTableCreated:
		v = &TableCreated{}
	case EventTableUpdated:
		v = &TableUpdated{}
	case EventTableDeleted:
		v = &TableDeleted{}
	case EventWorkspaceCreated:
		v = &WorkspaceCreated{}
	case EventWorkspaceUpdated:
		v = &WorkspaceUpdated{}
	case EventWorkspaceDeleted:
		v = &WorkspaceDeleted{}
	case EventMemberAdded, EventMemberUpdated, EventMemberRemoved:
		v = &MemberChanged{}
	case EventWebhookPaused:
		v = &WebhookPaused{}
	default:
		return nil, fmt.Errorf("event: unknown event type %q", typ)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return nil, fmt.Errorf("event: decode %s event: %w", typ, err)
	}
	return v, nil
}

// SubmitMeta is what an event's payload says of the submit that made
// it: its src and seq, and its acknowledgement.
type SubmitMeta struct {
	Src   string
	Seq   uint64
	Reply *SubmitReply
}

// Submit reads SubmitMeta from the head of an event's payload
// (TableMeta leads every table event, its scalar members first and Reply
// last): the scan stops at the first other structured member, so an event
// with a thousand rows is not read through for it.
func Submit(payload []byte) SubmitMeta {
	if m, ok := scanSubmit(payload); ok {
		return m
	}
	return decodeSubmit(payload)
}

// decodeSubmit is Submit through encoding/json.
func decodeSubmit(payload []byte) SubmitMeta {
	var m SubmitMeta
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return m
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return m
		}
		key, _ := t.(string)
		if key == "reply" {
			var r SubmitReply
			if dec.Decode(&r) == nil {
				m.Reply = &r
			}
			return m
		}
		v, err := dec.Token()
		if err != nil {
			return m
		}
		if _, structured := v.(json.Delim); structured {
			return m
		}
		switch key {
		case "src":
			m.Src, _ = v.(string)
		case "seq":
			if n, ok := v.(json.Number); ok {
				if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
					m.Seq = u
				}
			}
		}
	}
	return m
}
