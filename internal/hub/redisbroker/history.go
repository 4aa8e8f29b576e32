package redisbroker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tablecast/tablecast/internal/stream"
)

// History is a stream.History in Redis: per stream a hash (offset,
// epoch) and a list of the last entries, both expiring after the TTL
// without appends (a new epoch then starts: clients holding positions of
// the old one are told they cannot recover).
type History struct {
	rdb    redis.UniversalClient
	prefix string
	size   int
	ttl    time.Duration
}

var _ stream.History = (*History)(nil)

// NewHistory returns a history keeping size entries per stream (100
// when size is 0; none when negative) for ttl (5 minutes when 0).
func NewHistory(rdb redis.UniversalClient, prefix string, size int, ttl time.Duration) *History {
	if size == 0 {
		size = 100
	}
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &History{rdb: rdb, prefix: prefix, size: size, ttl: ttl}
}

func (h *History) keys(name string) []string {
	base := h.prefix + "s:{" + name + "}:"
	return []string{base + "top", base + "hist"}
}

// historyEntry is an entry of the list as the append script writes it:
// an envelope (envelope.go) whose payload is left undecoded, since a
// History keeps any payload.
type historyEntry struct {
	Offset uint64          `json:"o"`
	Pub    json.RawMessage `json:"p"`
}

// appendScript takes the next offset (starting a new epoch for an unknown
// stream), keeps the entry, trims and refreshes the TTL, and publishes the
// entry when a channel is given: one atomic step.
var appendScript = redis.NewScript(`
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
end
local off = redis.call('HINCRBY', KEYS[1], 'o', 1)
local entry = '{"o":' .. off .. ',"e":"' .. epoch .. '","p":' .. ARGV[2] .. '}'
local size = tonumber(ARGV[3])
if size > 0 then
  redis.call('RPUSH', KEYS[2], entry)
  redis.call('LTRIM', KEYS[2], -size, -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], entry)
end
return {off, epoch}
`)

// topScript returns the position, creating the epoch of an unknown stream.
var topScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], 'e', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('HMGET', KEYS[1], 'o', 'e')
`)

// sinceScript returns the position and the last n entries.
var sinceScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], 'e', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
local pos = redis.call('HMGET', KEYS[1], 'o', 'e')
local n = tonumber(pos[1]) - tonumber(ARGV[2])
if n <= 0 then return {pos[1], pos[2]} end
local max = tonumber(ARGV[4])
if max >= 0 and n > max then return {pos[1], pos[2], 'over'} end
local out = {pos[1], pos[2]}
for _, e in ipairs(redis.call('LRANGE', KEYS[2], -n, -1)) do table.insert(out, e) end
return out
`)

// rawPrefix wraps a payload that is not JSON (the history's entries embed
// payloads as JSON; publications always are).
var rawPrefix = []byte(`{"raw":`)

func newEpoch() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// Append implements stream.History.
func (h *History) Append(ctx context.Context, name string, payload []byte) (stream.Position, error) {
	return h.appendPublish(ctx, name, payload, "")
}

func (h *History) appendPublish(ctx context.Context, name string, payload []byte, channel string) (stream.Position, error) {
	if !json.Valid(payload) {
		// The entry embeds the payload as JSON; other payloads go in as a
		// JSON string.
		q, err := json.Marshal(string(payload))
		if err != nil {
			return stream.Position{}, err
		}
		payload = append(append(append([]byte(nil), rawPrefix...), q...), '}')
	}
	res, err := appendScript.Run(ctx, h.rdb, h.keys(name), newEpoch(), payload, h.size, h.ttl.Milliseconds(), channel).Slice()
	if err != nil {
		return stream.Position{}, err
	}
	if len(res) != 2 {
		return stream.Position{}, fmt.Errorf("redis history: unexpected reply %v", res)
	}
	off, _ := res[0].(int64)
	epoch, _ := res[1].(string)
	return stream.Position{Offset: uint64(off), Epoch: epoch}, nil
}

// Top implements stream.History.
func (h *History) Top(ctx context.Context, name string) (stream.Position, error) {
	if err := ctx.Err(); err != nil {
		return stream.Position{}, err
	}
	res, err := topScript.Run(ctx, h.rdb, h.keys(name)[:1], newEpoch(), h.ttl.Milliseconds()).Slice()
	if err != nil {
		return stream.Position{}, err
	}
	return parsePosition(res)
}

func parsePosition(res []any) (stream.Position, error) {
	if len(res) < 2 {
		return stream.Position{}, fmt.Errorf("redis history: unexpected reply %v", res)
	}
	offStr, _ := res[0].(string)
	epoch, _ := res[1].(string)
	off, err := strconv.ParseUint(offStr, 10, 64)
	if err != nil {
		return stream.Position{}, fmt.Errorf("redis history: offset %q: %w", offStr, err)
	}
	return stream.Position{Offset: off, Epoch: epoch}, nil
}

// Since implements stream.History.
func (h *History) Since(ctx context.Context, name string, since stream.Position, limit int) ([]stream.Entry, stream.Position, error) {
	if err := ctx.Err(); err != nil {
		return nil, stream.Position{}, err
	}
	max := limit
	if h.size < 0 {
		max = 0
	}
	res, err := sinceScript.Run(ctx, h.rdb, h.keys(name), newEpoch(), strconv.FormatUint(min(since.Offset, 1<<62), 10),
		h.ttl.Milliseconds(), max).Slice()
	if err != nil {
		return nil, stream.Position{}, err
	}
	pos, err := parsePosition(res)
	if err != nil {
		return nil, stream.Position{}, err
	}
	unrecoverable := func(why string) ([]stream.Entry, stream.Position, error) {
		return nil, pos, fmt.Errorf("%w: %s %s", stream.ErrUnrecoverable, name, why)
	}
	switch {
	case since.Epoch != pos.Epoch:
		return unrecoverable("has another epoch")
	case since.Offset > pos.Offset:
		return unrecoverable("is behind the position asked for")
	case since.Offset == pos.Offset:
		return nil, pos, nil
	case len(res) == 3 && res[2] == "over":
		return unrecoverable("has more entries than the limit")
	}
	want := pos.Offset - since.Offset
	if uint64(len(res)-2) != want {
		return unrecoverable("no longer keeps them")
	}
	out := make([]stream.Entry, 0, want)
	for i, r := range res[2:] {
		s, _ := r.(string)
		var env historyEntry
		if err := json.Unmarshal([]byte(s), &env); err != nil {
			return nil, pos, fmt.Errorf("redis history: entry: %w", err)
		}
		if env.Offset != since.Offset+uint64(i)+1 {
			return unrecoverable("no longer keeps them")
		}
		payload := []byte(env.Pub)
		if bytes.HasPrefix(payload, rawPrefix) {
			var raw struct {
				Raw string `json:"raw"`
			}
			if err := json.Unmarshal(payload, &raw); err != nil {
				return nil, pos, fmt.Errorf("redis history: entry: %w", err)
			}
			payload = []byte(raw.Raw)
		}
		out = append(out, stream.Entry{Offset: env.Offset, Payload: payload})
	}
	return out, pos, nil
}
