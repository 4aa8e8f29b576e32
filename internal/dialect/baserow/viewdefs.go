package baserow

import "github.com/tablecast/tablecast/internal/dialect/publicview"

// The view definitions and the projection's sorting of rows are shared
// with the native dialect (internal/dialect/publicview); this dialect
// renders them in Baserow's shapes (projection.go).
type (
	viewDef = publicview.View
	// TableViews is what the projections of one table need.
	TableViews = publicview.TableViews
)
