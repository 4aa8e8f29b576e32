package docs

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tablecast/tablecast/internal/dialect/baserow"
	"github.com/tablecast/tablecast/internal/dialect/native"
	"github.com/tablecast/tablecast/internal/dialect/sharedb"
)

// TestProtocolReferenceCoversEveryCode: docs/protocol-reference.md names
// every native message type and error code (and the fields and collection
// they come with: expires_in, retry_after, publicview_<slug>, the
// webhook_paused notice), every ShareDB error code the server defines, the
// Baserow messages and words the server sends and accepts, and the HTTP
// refusals of the socket endpoints.
func TestProtocolReferenceCoversEveryCode(t *testing.T) {
	b, err := os.ReadFile("protocol-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var want []string
	for _, typ := range []string{native.TypeConnect, native.TypeConnected, native.TypeDisconnect, native.TypeError,
		native.TypePing, native.TypePong, native.TypeSubscribe, native.TypeUnsubscribe, native.TypeQuery,
		native.TypeSubmit, native.TypeOp, native.TypeMessage, native.TypePresence, native.TypeRefresh} {
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
		sharedb.CodeRateLimited, sharedb.CodeTooMany, sharedb.CodeTooLarge, sharedb.CodeUnavailable} {
		want = append(want, "`"+code+"`")
	}
	// What the native protocol adds around its types and codes.
	for _, w := range []string{"expires_in", "retry_after", "publicview_<slug>", "webhook_paused"} {
		want = append(want, "`"+w+"`")
	}
	// The Baserow dialect's messages and words (most are unexported): the
	// ones it sends and accepts.
	for _, w := range []string{baserow.TypeAuthentication, baserow.TypePageAdd, baserow.TypePageAddFailed,
		baserow.TypePageDiscard, baserow.TypeReplayEvents, baserow.TypeReplayEventsResult,
		baserow.TypeRealtimeSubscribe, baserow.TypeRealtimeSubscribed, baserow.TypeForceDisconnect,
		baserow.TypeForceRowsRefresh, baserow.TypeForceViewRefresh,
		baserow.ErrWordForbidden, baserow.ErrWordNotFound, baserow.ErrWordInvalid, baserow.ErrWordRateLimited,
		baserow.ErrWordTooMany, baserow.ErrWordUnavailable, baserow.ReasonDisconnected,
		"rows_created", "rows_updated", "rows_deleted", "field_created", "field_updated", "field_deleted",
		"view_created", "view_updated", "view_deleted", "view_filter_created", "view_filter_updated",
		"view_filter_deleted", "view_sort_created", "view_sort_updated", "view_sort_deleted",
		"view_field_options_updated", "table_created", "table_updated", "table_deleted", "group_updated",
		"group_deleted", "group_user_added", "group_user_updated", "group_user_deleted", "webhook_paused",
		// the HTTP refusals of the socket endpoints
		"invalid_session_id", "token_required", "invalid_token", "token_expired", "user_mismatch",
		"origin_not_allowed", "too_many_attempts", "keys_unavailable", "connection_limit", "draining"} {
		want = append(want, "`"+w+"`")
	}
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("docs/protocol-reference.md does not name %s", w)
		}
	}
}
