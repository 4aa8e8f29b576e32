package event

import (
	"time"

	"github.com/tablecast/tablecast/internal/table"
)

// Role is a workspace member's role (admin, editor, viewer) as events
// and the API carry it; the store's is store.Role, of the same strings.
type Role string

// Workspace is a workspace as the API shows it; Role is the caller's.
type Workspace struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Role      Role      `json:"role,omitempty"`
}

// Table is a table as the API shows it. Fields is set by CreateTable only.
// Version is 1 when created, +1 on each update (the native protocol's
// document version of table_W).
type Table struct {
	ID          int64         `json:"id"`
	WorkspaceID int64         `json:"workspace_id"`
	Name        string        `json:"name"`
	Order       int           `json:"order"`
	CreatedAt   time.Time     `json:"created_at"`
	Version     int64         `json:"version"`
	Fields      []table.Field `json:"fields,omitempty"`
}

// Row is a row as the API and the events show it. Fields holds a value for
// every field of the table (an empty cell holds its field's default value);
// public view rows hold only the visible fields.
type Row struct {
	ID        int64        `json:"id"`
	Order     string       `json:"order"`
	Version   int64        `json:"version"`
	Fields    table.Values `json:"fields"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}
