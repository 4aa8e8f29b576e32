package client

import (
	"context"
	"encoding/json"
	"fmt"
)

// Submission is the data of a submit: the version the change was made
// against and exactly one of Op (json0 components), Create and Del. Src
// and Seq identify it, so that the same submission resent after a
// reconnect is acknowledged without being applied twice.
type Submission struct {
	V      int64           `json:"v"`
	Op     json.RawMessage `json:"op,omitempty"`
	Create json.RawMessage `json:"create,omitempty"`
	Del    bool            `json:"del,omitempty"`
	Src    string          `json:"src,omitempty"`
	Seq    uint64          `json:"seq,omitempty"`
}

// SubmitAck is the server's answer to a submit.
type SubmitAck struct {
	// V is the document's version after the change.
	V int64 `json:"v"`
	// Duplicate: the submission had been applied already (resent).
	Duplicate bool `json:"duplicate"`
	// Fixup, when the server stored the change in another form than it
	// was sent (a number rounded to its field's decimals, a select option
	// named by its value), is the json0 op that turns the submitter's
	// copy into the stored document: OTDoc.AckedFixup applies it.
	Fixup json.RawMessage `json:"fixup,omitempty"`
	// Offset is the offset of the change's event in the table's stream.
	// The submitting connection does not receive that `op` itself.
	Offset uint64 `json:"-"`
}

// Submit sends a change of one document of a store collection (record_T,
// field_T, view_T) and waits for its acknowledgement. A refused change is
// a *ServerError: 400 for an op that does not apply or a value the field
// refuses, 403/404 without the right to edit, 409 for a version the
// document has not reached or whose ops are no longer kept.
//
// A connection subscribed to the document receives the reply through the
// document's stream, after the `op` messages of versions below the one the
// change applied to and before those above it.
func (c *Client) Submit(ctx context.Context, collection, document string, s Submission) (SubmitAck, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return SubmitAck{}, fmt.Errorf("tablecast: encode submit: %w", err)
	}
	m, err := c.Request(ctx, Message{Type: TypeSubmit, Collection: collection, Document: document, Data: data})
	if err != nil {
		return SubmitAck{}, err
	}
	var ack SubmitAck
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return SubmitAck{}, fmt.Errorf("tablecast: submit reply %s: %w", m.Data, err)
	}
	if m.Offset != nil {
		ack.Offset = *m.Offset
	}
	return ack, nil
}
