package service

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tablecast/tablecast/internal/event"
	"github.com/tablecast/tablecast/internal/store"
	"github.com/tablecast/tablecast/internal/table"
)

// ViewInput is the body of creating a view. A public view gets a random
// slug; a non-empty Password protects it (8 to 256 characters, stored
// hashed).
type ViewInput struct {
	Name           string         `json:"name"`
	Type           string         `json:"type"`
	FilterType     string         `json:"filter_type"`
	Filters        []table.Filter `json:"filters"`
	Sorts          []table.Sort   `json:"sorts"`
	HiddenFieldIDs []int64        `json:"hidden_field_ids"`
	Public         bool           `json:"public"`
	Password       string         `json:"password"`
}

// ViewPatch is the body of updating a view; nil members are unchanged.
// Password "" removes the password. A view made public keeps (or gets) its
// slug; made private, it keeps it too, so that publishing it again gives
// the same address.
type ViewPatch struct {
	Name           *string         `json:"name"`
	Type           *string         `json:"type"`
	FilterType     *string         `json:"filter_type"`
	Filters        *[]table.Filter `json:"filters"`
	Sorts          *[]table.Sort   `json:"sorts"`
	HiddenFieldIDs *[]int64        `json:"hidden_field_ids"`
	Public         *bool           `json:"public"`
	Password       *string         `json:"password"`
}

// ViewToken is the answer of a public view's password check.
type ViewToken struct {
	Token     string    `json:"access_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PublicView is what a public view shows: the view, its table's workspace
// and its visible fields, in order.
type PublicView struct {
	View        table.View
	WorkspaceID int64
	Fields      []table.Field
}

// Password limits of a view.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

func newSlug() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return b64.EncodeToString(b), nil
}

func checkPasswordLength(e *table.ValidationError, password string) *table.ValidationError {
	if n := utf8.RuneCountInString(password); password != "" && (n < MinPasswordLength || n > MaxPasswordLength) {
		return e.Add("password", "must be "+strconv.Itoa(MinPasswordLength)+" to "+strconv.Itoa(MaxPasswordLength)+" characters")
	}
	return e
}

// viewAccess reads a view and checks the role on its table.
func viewAccess(ctx context.Context, r store.Reader, user string, viewID int64, need store.Role) (store.Table, store.View, error) {
	sv, err := r.View(ctx, viewID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Table{}, store.View{}, errorf(event.ErrNotFound, "view %d does not exist", viewID)
	}
	if err != nil {
		return store.Table{}, store.View{}, err
	}
	t, _, err := tableAccess(ctx, r, user, sv.TableID, need)
	if errors.Is(err, event.ErrNotFound) {
		return store.Table{}, store.View{}, errorf(event.ErrNotFound, "view %d does not exist", viewID)
	}
	return t, sv, err
}

// ListViews lists a table's views (any member).
func (s *Service) ListViews(ctx context.Context, a Actor, tableID int64) ([]table.View, error) {
	var out []table.View
	err := s.read(ctx, func(r store.Reader) error {
		if _, _, err := tableAccess(ctx, r, a.UserID, tableID, store.RoleViewer); err != nil {
			return err
		}
		vs, err := r.Views(ctx, tableID)
		if err != nil {
			return err
		}
		out = make([]table.View, len(vs))
		for i, sv := range vs {
			v, err := ViewFromStore(sv)
			if err != nil {
				return err
			}
			out[i] = *v
		}
		return nil
	})
	return out, err
}

// finishView validates and canonicalises v and sets its slug and password
// hash; it returns the hash to store.
func (s *Service) finishView(v *table.View, sc *schema, hash string, password *string) (string, error) {
	v.Name = strings.TrimSpace(v.Name)
	e := v.Validate(sc.byID)
	if password != nil {
		e = checkPasswordLength(e, *password)
	}
	if err := e.Err(); err != nil {
		return "", err
	}
	v.Canonicalize()
	if v.Public && v.Slug == "" {
		slug, err := newSlug()
		if err != nil {
			return "", err
		}
		v.Slug = slug
	}
	if password != nil {
		hash = ""
		if *password != "" {
			h, err := s.hashPassword(*password)
			if err != nil {
				return "", err
			}
			hash = h
		}
	}
	v.HasPassword = hash != ""
	return hash, nil
}

// CreateView creates a view of a table (editor).
func (s *Service) CreateView(ctx context.Context, a Actor, tableID int64, in ViewInput) (table.View, error) {
	var out table.View
	err := s.write(ctx, a, func(w *writeTx) error {
		t, sc, err := tableSchema(ctx, w, a.UserID, tableID, store.RoleEditor)
		if err != nil {
			return err
		}
		v := &table.View{
			TableID: tableID, Name: in.Name, Type: in.Type, FilterType: in.FilterType, Filters: in.Filters,
			Sorts: in.Sorts, HiddenFieldIDs: in.HiddenFieldIDs, Public: in.Public,
		}
		hash, err := s.finishView(v, sc, "", &in.Password)
		if err != nil {
			return err
		}
		sv, err := w.CreateView(ctx, viewToStore(v, hash))
		if err != nil {
			return err
		}
		created, err := ViewFromStore(sv)
		if err != nil {
			return err
		}
		out = *created
		return w.emit(store.TableStream(t.ID), event.EventViewCreated, event.ViewCreated{TableMeta: w.tableMeta(t), View: out})
	})
	return out, err
}

// UpdateView changes a view (editor).
func (s *Service) UpdateView(ctx context.Context, a Actor, viewID int64, in ViewPatch) (table.View, error) {
	var out table.View
	err := s.write(ctx, a, func(w *writeTx) error {
		t, sv, err := viewAccess(ctx, w, a.UserID, viewID, store.RoleEditor)
		if err != nil {
			return err
		}
		out, err = s.updateView(w, t, sv, in, nil)
		return err
	})
	return out, err
}

// updateView is UpdateView in w, after the access check; op, when not nil,
// is the submitted json0 op that made the change (for the event).
func (s *Service) updateView(w *writeTx, t store.Table, sv store.View, in ViewPatch, op json.RawMessage) (table.View, error) {
	ctx := w.ctx
	var out table.View
	err := func() error {
		sc, err := loadSchema(ctx, w, t.ID)
		if err != nil {
			return err
		}
		before, err := ViewFromStore(sv)
		if err != nil {
			return err
		}
		v := before.Clone()
		if in.Name != nil {
			v.Name = *in.Name
		}
		if in.Type != nil {
			v.Type = *in.Type
		}
		if in.FilterType != nil {
			v.FilterType = *in.FilterType
		}
		if in.Filters != nil {
			v.Filters = *in.Filters
		}
		if in.Sorts != nil {
			v.Sorts = *in.Sorts
		}
		if in.HiddenFieldIDs != nil {
			v.HiddenFieldIDs = *in.HiddenFieldIDs
		}
		if in.Public != nil {
			v.Public = *in.Public
		}
		hash, err := s.finishView(v, sc, sv.PasswordHash, in.Password)
		if err != nil {
			return err
		}
		saved, err := w.UpdateView(ctx, viewToStore(v, hash))
		if err != nil {
			return err
		}
		after, err := ViewFromStore(saved)
		if err != nil {
			return err
		}
		out = *after
		return w.emit(store.TableStream(t.ID), event.EventViewUpdated, event.ViewUpdated{
			TableMeta: w.tableMeta(t), View: out, ViewBefore: *before, Op: op,
			PasswordChanged: hash != "" && hash != sv.PasswordHash,
		})
	}()
	return out, err
}

// DeleteView deletes a view (editor).
func (s *Service) DeleteView(ctx context.Context, a Actor, viewID int64) error {
	return s.write(ctx, a, func(w *writeTx) error {
		t, sv, err := viewAccess(ctx, w, a.UserID, viewID, store.RoleEditor)
		if err != nil {
			return err
		}
		return w.deleteView(t, sv)
	})
}

// deleteView is DeleteView in w, after the access check.
func (w *writeTx) deleteView(t store.Table, sv store.View) error {
	v, err := ViewFromStore(sv)
	if err != nil {
		return err
	}
	if err := w.DeleteView(w.ctx, sv.ID); err != nil {
		return err
	}
	return w.emit(store.TableStream(t.ID), event.EventViewDeleted, event.ViewDeleted{
		TableMeta: w.tableMeta(t), ViewID: sv.ID, View: *v,
	})
}

// publicView reads a public view by slug; a view that is not public does
// not exist for the public.
func publicView(ctx context.Context, r store.Reader, slug string) (store.View, error) {
	sv, err := r.ViewBySlug(ctx, slug)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !sv.Public) {
		return store.View{}, errorf(event.ErrNotFound, "no public view has this address")
	}
	return sv, err
}

// PublicViewAuth checks a public view's password and returns a token for
// it, valid for Config.ViewTokenTTL (also for a view without a password,
// where it is not needed). A wrong password is ErrUnauthorized.
func (s *Service) PublicViewAuth(ctx context.Context, slug, password string) (ViewToken, error) {
	var sv store.View
	err := s.read(ctx, func(r store.Reader) error {
		var err error
		sv, err = publicView(ctx, r, slug)
		return err
	})
	if err != nil {
		return ViewToken{}, err
	}
	if sv.PasswordHash != "" && !checkPassword(sv.PasswordHash, password) {
		return ViewToken{}, errorf(event.ErrUnauthorized, "the password is not right")
	}
	exp := s.now().Add(s.tokenTTL).Truncate(time.Second).UTC()
	return ViewToken{Token: s.signViewToken(sv.ID, sv.PasswordHash, exp), ExpiresAt: exp}, nil
}

// openPublic reads a public view, checks the token when it has a password,
// and returns its table, schema and view.
func (s *Service) openPublic(ctx context.Context, r store.Reader, slug, token string) (store.Table, *schema, *table.View, error) {
	sv, err := publicView(ctx, r, slug)
	if err != nil {
		return store.Table{}, nil, nil, err
	}
	if sv.PasswordHash != "" && !s.checkViewToken(token, sv.ID, sv.PasswordHash) {
		return store.Table{}, nil, nil, errorf(event.ErrUnauthorized,
			"this view has a password: send the token of POST /api/views/{slug}/public/auth as Authorization: Bearer <token>")
	}
	t, err := r.Table(ctx, sv.TableID)
	if err != nil {
		return store.Table{}, nil, nil, err
	}
	sc, err := loadSchema(ctx, r, t.ID)
	if err != nil {
		return store.Table{}, nil, nil, err
	}
	v, err := ViewFromStore(sv)
	return t, sc, v, err
}

// OpenPublicView authorises a public view's reader (token is needed only
// when the view has a password) and returns what they may see. The
// dialects call it when a public view page is added.
func (s *Service) OpenPublicView(ctx context.Context, slug, token string) (PublicView, error) {
	var out PublicView
	err := s.read(ctx, func(r store.Reader) error {
		t, sc, v, err := s.openPublic(ctx, r, slug, token)
		if err != nil {
			return err
		}
		out = PublicView{View: *v, WorkspaceID: t.WorkspaceID}
		for _, f := range v.VisibleFields(sc.byID) {
			out.Fields = append(out.Fields, *f)
		}
		return nil
	})
	return out, err
}

// PublicRows lists the rows of a public view: only the rows its filters
// match, sorted by its sorts, with only its visible fields. Of the input,
// Limit, Cursor and Search (in visible fields) are read.
func (s *Service) PublicRows(ctx context.Context, slug, token string, in ListRowsInput) (RowPage, error) {
	var out RowPage
	err := s.read(ctx, func(r store.Reader) error {
		t, sc, v, err := s.openPublic(ctx, r, slug, token)
		if err != nil {
			return err
		}
		visible := v.VisibleFields(sc.byID)
		search := make(map[int64]*table.Field, len(visible))
		for _, f := range visible {
			search[f.ID] = f
		}
		q, err := compileQuery(t, listSpec{
			in:   ListRowsInput{Limit: in.Limit, Cursor: in.Cursor, Search: in.Search},
			view: v, fields: sc.byID, search: search, context: "public:" + slug,
		})
		if err != nil {
			return err
		}
		out, err = s.readPage(ctx, r, q, in.Cursor, visible)
		return err
	})
	return out, err
}
