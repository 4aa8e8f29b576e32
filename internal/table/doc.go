// Package table is the table domain of tablecast: fields and the values
// they hold, filters, sorts, row order and views. It is pure (no I/O, no
// clock, standard library only); the store's service layer, the REST API and
// the dialects build on it. The Baserow public-view projection evaluates a
// view's filters on every row event, so a compiled Predicate matches a row
// without allocating.
//
// # Model
//
// A table has fields (Field, with one primary field) and rows. A row's cells
// are Values: field id to the cell's canonical JSON value. Canonical means
// what Field.Normalize returns, which is also what is stored, sent to
// clients and read by filters and sorts:
//
//	type             canonical value                    empty
//	text, long_text  "string"                           null
//	number           "12.50" (a string, Decimals wide)  null
//	boolean          true / false                       false
//	date             "2026-01-02"                       null
//	date+time        "2026-01-02T03:04:05Z" (UTC)       null
//	single_select    choice id: 12                      null
//	multiple_select  [12,10] (ids, no repeats)          []
//
// A field missing from a row's Values holds its DefaultValue (the empty
// value). Keeping "not given" apart from null is the API's work: Normalize
// sees only given values, and null empties the cell.
//
// # Choices the spec left open
//
// Values (Normalize has the full list):
//   - Text is any string, newlines included, in both text types (Baserow's
//     API takes them in its single-line text too). At most 10,000 characters
//     for text and 1,000,000 for long_text; NUL is refused (PostgreSQL
//     cannot store it). Strings are not trimmed. "" is stored as null, so
//     that empty has one form. A JSON number given to a text field is taken
//     as its text, as Baserow's serializer does.
//   - Numbers are exact decimals, never floats, stored as strings with
//     exactly Decimals places ("12.50"), as Baserow's API sends them.
//     Input with more places is rounded half away from zero (2.675 gives
//     2.68); at most 50 digits before the point (Baserow's limit); numeric
//     strings may carry spaces, a sign and an exponent. Negative numbers
//     are always allowed (Baserow's number_negative option is not modelled).
//   - Booleans take Baserow's words (t/f, y/n, yes/no, true/false, on/off,
//     1/0, checked/unchecked, any case) and the numbers 1 and 0.
//   - Dates are ISO 8601. A date-time is kept in UTC to the second; without
//     an offset it is UTC. A date-time given to a date field keeps its UTC
//     date; a date given to a date-time field is midnight UTC. Years 1-9999.
//     There is no time zone or display format option: rendering in a zone
//     is the client's work.
//   - A select item is a choice id, a choice value (exact, first choice
//     with it; values may repeat, as in Baserow) or an object with "id" (so
//     Baserow's {"id","value","color"} reads back). A choice id of 0 in a
//     field definition is a new choice, to be numbered by the store.
//
// Filters (Compile, FilterApplies):
//   - The types and their field types follow Baserow: equal/not_equal on
//     text types and number; contains/not_contains on text types, number and
//     date (as stored text) and selects (a choice value contains the text);
//     empty/not_empty on all; higher_than/lower_than on number only (dates
//     have date_before/date_after); boolean; single_select_equal; the date
//     filters on date. Baserow's name contains_not is read as not_contains.
//   - Text comparison is case-insensitive by Unicode simple folding. equal
//     also trims spaces on both sides, as Baserow's web front end matches
//     rows live; contains does not trim its value.
//   - A filter without a value is left out (Baserow's behaviour): in AND it
//     passes every row, in OR it is not there; an empty set, or one left
//     with no filters, matches every row. boolean without a value means
//     false.
//   - The not_ forms are the exact negation, so empty cells pass
//     not_equal and not_contains; higher_than, lower_than and the date
//     filters never pass an empty cell.
//   - Values are checked: a number that does not parse, an unknown choice
//     id, a date that is not YYYY-MM-DD, or a boolean word that is not one
//     is an error (Baserow would silently match nothing or everything).
//     Date values may carry Baserow's "<zone>?" prefix, but only for UTC:
//     other zones need the zone database. Date filters compare the cell's
//     UTC date.
//   - filter_type is exactly "AND" or "OR" ("" is AND). At most 100 filters,
//     10,000 bytes per value. A filter value in JSON may be a string, number,
//     boolean or null, and is kept as a string, as Baserow keeps it.
//   - A Predicate is bound to the fields it was compiled with: compile again
//     when one of its Fields changes. View.ReconcileField drops filters that
//     a changed field no longer takes, so a stored view always compiles.
//
// Search matches a trimmed query, case-insensitively, in text, long_text,
// number (as "12.50"), date (as stored) and select (by choice value) cells.
//
// Sorts compare numbers numerically, dates in time, text case-insensitively
// by folded code point (not a locale's collation), booleans false first,
// selects by choice value (and a multiple_select by its list of values).
// Empty cells, and values of the wrong shape, come last in asc; desc is
// the exact reverse, so they come first (PostgreSQL's default). Ties are
// for the caller, which falls back to the row order and then the row id.
//
// Row order (Order) is Baserow's decimal(40,20) written with 20 fractional
// digits, held exactly in 128 bits; the integer part has at most 18 digits.
// OrderAfter gives floor(last)+1; OrderBetween the midpoint cut to 20
// digits, ErrOrderExhausted when none is left (66 inserts before one row
// from a gap of 1), upon which the store renumbers. SortKey is a text form
// that sorts like the number, for a text column.
//
// Views are of type grid only; the primary field cannot be hidden. When a
// field is deleted, View.RemoveField drops its filters, sort and hidden
// entry and reports a change for the store to save and announce.
//
// # Errors
//
// A bad request is one *ValidationError whose Details are keyed by the path
// of what is wrong ("name", "options.choices[2].value", "fields.12",
// "filters[1].value"), ready for {"error":{"code":"invalid_request",
// "details":...}}; Prefixed and ItemKey put a batch item's index in front
// ("items[3].fields.7"). Normalize returns a *ValueError naming the field.
package table
