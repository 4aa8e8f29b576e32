package event

import "errors"

// The errors of the table store, as the service returns them and the
// dialects tell them apart: test with errors.Is. The service returns them
// as an *Error with a message for the caller (or a *table.ValidationError
// for a value or an op refused).
var (
	// ErrNotFound: the thing does not exist, or belongs to a workspace the
	// caller is not a member of (existence is never revealed).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: a member whose role does not allow the operation.
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the change conflicts with the current state (a row's
	// version, the last admin, the primary field, a concurrent change).
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: a wrong view password, or a missing or invalid view
	// token.
	ErrUnauthorized = errors.New("unauthorized")
)

// The reasons of submit conflicts (with ErrConflict), for the dialects
// that tell them apart (ShareDB's error codes).
var (
	// ErrDocExists: a create of a document that exists.
	ErrDocExists = errors.New("document already exists")
	// ErrDocDeleted: an op on a document that was deleted.
	ErrDocDeleted = errors.New("document was deleted")
	// ErrVersionAhead: an op for a version the document has not reached.
	ErrVersionAhead = errors.New("version ahead of the document")
	// ErrOpsPruned: the ops since the op's version are no longer kept (or
	// too many): the client must fetch the document again.
	ErrOpsPruned = errors.New("ops since the version are not kept")
)

// Error is an error with a message that is safe to show the caller.
type Error struct {
	Kind error // ErrNotFound, ErrForbidden, ErrConflict or ErrUnauthorized
	// Reason, when set, says more precisely what Kind is about (the
	// submit conflicts: ErrDocExists, ErrDocDeleted, ErrVersionAhead,
	// ErrOpsPruned); errors.Is finds both.
	Reason  error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap gives Kind and Reason to errors.Is.
func (e *Error) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Reason}
}
