package hub

import (
	"context"
	"errors"

	"github.com/tablecast/tablecast/internal/stream"
)

// Broker carries publications between the nodes of a cluster and keeps the
// history of streamed channels. The hub owns this interface; the memory broker
// (in this package) serves one node, the Redis broker (package redisbroker)
// several. Both run the contract suite in package brokertest.
//
// Streams are named by collection: every streamed publication of a collection,
// whatever its document, takes the next offset of the collection's stream, so a
// collection subscriber and a document subscriber agree on offsets.
type Broker interface {
	// Start begins telling h what the cluster says: every publication, in
	// offset order per stream, and the resyncs and resets a cluster broker
	// finds necessary. It does not block.
	Start(ctx context.Context, h BrokerEventHandler) error
	// Publish gives a streamed p its offset, keeps it in the stream's history
	// and hands it to every node; other kinds are only handed on.
	Publish(ctx context.Context, p *Publication) (stream.Position, error)
	// History returns the publications of a stream after since, in order, and
	// the stream's position. It wraps stream.ErrUnrecoverable when it cannot
	// give all of them (epoch changed, pruned, more than limit).
	History(ctx context.Context, collection string, since stream.Position, limit int) ([]*Publication, stream.Position, error)
	// Top is the stream's current position.
	Top(ctx context.Context, collection string) (stream.Position, error)
	// Subscribe and Unsubscribe tell the broker which streams this node has
	// subscribers for, so that a cluster broker forwards only those. An
	// error wrapping ErrSubscribePending means the interest is kept and the
	// subscription will be made when the broker can, followed by a
	// HandleResync of the stream (publications meanwhile were missed).
	Subscribe(ctx context.Context, collection string) error
	Unsubscribe(ctx context.Context, collection string) error
	// Close stops delivering and releases what Start acquired.
	Close() error
}

// PublicationsOf decodes a stream's history entries, read at pos, into
// publications for Broker.History: each takes its entry's offset and pos's
// epoch. An entry that does not decode makes the range unrecoverable.
func PublicationsOf(entries []stream.Entry, pos stream.Position, decode func([]byte) (*Publication, error)) ([]*Publication, error) {
	out := make([]*Publication, 0, len(entries))
	for _, e := range entries {
		p, err := decode(e.Payload)
		if err != nil {
			return nil, errors.Join(stream.ErrUnrecoverable, err)
		}
		p.Offset, p.Epoch = e.Offset, pos.Epoch
		out = append(out, p)
	}
	return out, nil
}

// ErrSubscribePending is wrapped by a Broker.Subscribe that could not reach
// the cluster but keeps the interest: it subscribes, and asks for a resync,
// when the cluster is back.
var ErrSubscribePending = errors.New("hub: broker subscription pending")

// ErrUnavailable is wrapped by the hub's errors that a client may retry: the
// broker or the store could not be reached. Dialects answer it with their
// retryable refusal (503 and retry_after, ERR_... saying to retry,
// page_add_failed unavailable).
var ErrUnavailable = errors.New("hub: temporarily unavailable")

// BrokerEventHandler is what a broker tells the node it serves, one method
// per thing it is told. The hub implements it (brokerEvents); a broker calls
// it from its own goroutines, never with one of the hub's locks held.
type BrokerEventHandler interface {
	// HandlePublication hands over a publication of the cluster (this
	// node's own included), in offset order per stream. The publication
	// is the node's from then on: the broker does not change it.
	HandlePublication(p *Publication)
	// HandleResync says that the node's link to the cluster broke and is
	// back: the external stream (a table's, "table:T") may have lost
	// events on the way, which the hub reads back from the stream's store.
	HandleResync(stream string)
	// HandleReset says that an app channel (a collection) lost
	// publications its history cannot give back: the hub closes its
	// subscribers' connections (4002) so that they resume with since and
	// learn they cannot recover.
	HandleReset(collection string)
}
