package docs

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/dialect/native"
	"github.com/tablecast/tablecast/internal/dialect/sharedb"
)

// TestProtocolReferenceCoversEveryCode: docs/protocol-reference.md names
// every native message type and error code, every ShareDB error code the
// server defines, and the Baserow messages and words the server sends.
func TestProtocolReferenceCoversEveryCode(t *testing.T) {
	b, err := os.ReadFile("protocol-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var want []string
	for _, typ := range []string{native.TypeConnect, native.TypeConnected, native.TypeDisconnect, native.TypeError,
		native.TypePing, native.TypePong, native.TypeSubscribe, native.TypeUnsubscribe, native.TypeQuery,
		native.TypeSubmit, native.TypeOp, native.TypeMessage, native.TypePresence} {
		want = append(want, "`"+typ+"`")
	}
	for _, code := range []int{native.CodeInvalid, native.CodeUnauthorized, native.CodeForbidden, native.CodeNotFound,
		native.CodeConflict, native.CodeTooLarge, native.CodeRateLimited, native.CodeInternal, native.CodeUnavailable,
		4000, 4001, 4002, 4003, 4004, 4005, 1009} {
		want = append(want, "| "+strconv.Itoa(code)+" |")
	}
	for _, code := range []string{sharedb.CodeBadMessage, sharedb.CodeUnknown, sharedb.CodeSubmitRejected,
		sharedb.CodeDocExists, sharedb.CodeDocDeleted, sharedb.CodeDocMissing, sharedb.CodeDocType,
		sharedb.CodeVersionNewer, sharedb.CodeOpsNotFound, sharedb.CodeSnapshotRejected, sharedb.CodeBadOp,
		sharedb.CodeNoPresence, sharedb.CodeProtocol, sharedb.CodeUnknownCollection, sharedb.CodeForbidden,
		sharedb.CodeRateLimited, sharedb.CodeTooMany, sharedb.CodeTooLarge} {
		want = append(want, "`"+code+"`")
	}
	// The Baserow dialect's words are unexported: the ones it sends.
	for _, w := range []string{"authentication", "page_add", "page_add_failed", "page_discard", "rows_created",
		"rows_updated", "rows_deleted", "field_created", "field_updated", "field_deleted", "view_created",
		"view_updated", "view_deleted", "table_created", "table_updated", "table_deleted", "force_view_refresh",
		"force_view_rows_refresh", "replay_events", "replay_events_result", "force_disconnect", "invalid",
		"not_found", "forbidden", "too_many_pages", "rate_limited", "unavailable", "server_shutdown",
		"token_expired", "slow_consumer", "disconnected", "heartbeat_timeout",
		// the HTTP refusals of the socket endpoints
		"invalid_session_id", "token_required", "invalid_token", "user_mismatch", "origin_not_allowed",
		"too_many_attempts", "connection_limit", "draining"} {
		want = append(want, "`"+w+"`")
	}
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("docs/protocol-reference.md does not name %s", w)
		}
	}
}
