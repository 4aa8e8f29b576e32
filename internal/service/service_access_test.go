package service_test

import (
	"fmt"
	"testing"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/service"
	"github.com/tablecast/tablecast/internal/service/servicetest"
	"github.com/tablecast/tablecast/internal/store"
)

// The group commit keeps a user's role for a table across batches: a
// member's submits after a change of their role, or their removal, has
// committed are judged by the new role, never by the one kept. With hot
// documents and without.
func TestSubmitAfterRoleChange(t *testing.T) {
	for _, c := range []struct {
		name string
		cold bool
	}{{"hot", false}, {"cold", true}} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, servicetest.OpenSQLite(t), service.Config{ColdSubmits: c.cold})
			ctx := fx.ctx
			bob := service.Actor{UserID: "bob"}
			ok(fx.svc.AddMember(ctx, fx.admin, fx.ws.ID, service.MemberInput{UserID: "bob", Role: store.RoleEditor}))(t)
			r := ok(fx.svc.CreateRow(ctx, fx.admin, fx.tbl.ID, fx.fields("Name", `"x"`), 0))(t)
			v, seq := r.Version, uint64(0)
			submit := func() error {
				seq++
				op := fmt.Sprintf(`[{"p":["fields","%s",0],"si":"b"}]`, fx.id("Name"))
				res, err := fx.svc.Submit(ctx, bob, fx.rowOp(r.ID, v, "bob", seq, op))
				if err == nil {
					v = res.V + 1
				}
				return err
			}
			for range 3 { // the role is known, and kept
				if err := submit(); err != nil {
					t.Fatalf("editor's submit: %v", err)
				}
			}
			ok(fx.svc.UpdateMember(ctx, fx.admin, fx.ws.ID, "bob", service.MemberInput{Role: store.RoleViewer}))(t)
			wantErr(t, submit(), event.ErrForbidden)
			ok(fx.svc.UpdateMember(ctx, fx.admin, fx.ws.ID, "bob", service.MemberInput{Role: store.RoleEditor}))(t)
			if err := submit(); err != nil {
				t.Fatalf("submit as an editor again: %v", err)
			}
			if err := submit(); err != nil {
				t.Fatalf("second submit as an editor again: %v", err)
			}
			if err := fx.svc.RemoveMember(ctx, fx.admin, fx.ws.ID, "bob"); err != nil {
				t.Fatal(err)
			}
			wantErr(t, submit(), event.ErrNotFound)
			if got := fx.row(r.ID); got.Version != v {
				t.Fatalf("row at version %d after the refusals, want %d", got.Version, v)
			}
		})
	}
}
