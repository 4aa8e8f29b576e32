// Package json0 implements the json0 operational-transform type (the type
// ShareDB clients speak, "http://sharejs.org/types/JSONv0") with its text0
// subtype: Apply, Transform, Compose and Invert over JSON documents, in
// pure Go with no I/O.
//
// # Operations
//
// An Op is a list of Components, each with a path P (string keys and int
// indexes) and one kind of edit:
//
//	{"p":[...,"k"],"oi":v}           insert v at object key k (replacing what is there)
//	{"p":[...,"k"],"od":v}           delete key k, whose value is v
//	{"p":[...,"k"],"od":v,"oi":w}    replace v by w
//	{"p":[...,i],"li":v}             insert v before list index i
//	{"p":[...,i],"ld":v}             delete element v at index i
//	{"p":[...,i],"ld":v,"li":w}      replace it by w
//	{"p":[...,i],"lm":j}             move the element at i to index j
//	{"p":[...],"na":n}               add n to the number at p
//	{"p":[...,off],"si":s}           insert s into the string at [...] at off
//	{"p":[...,off],"sd":s}           delete s from it at off
//	{"p":[...],"t":"text0","o":[{"p":off,"i":s}|{"p":off,"d":s},...]}
//
// Operands keep "absent" apart from JSON null: see Value. Components marshal
// to and from exactly this wire shape.
//
// # Documents
//
// Documents are JSON values as encoding/json decodes them into any:
// map[string]any, []any, float64, string, bool and nil. json.Number is not
// supported (decode without UseNumber). Apply never mutates its inputs: it
// copies the containers on each component's path and shares the rest, so
// treat documents as immutable values.
//
// String offsets and lengths (si, sd, text0) count UTF-16 code units, as in
// the JavaScript clients; an offset that splits a surrogate pair is out of
// range.
//
// # Agreement with ot-json0
//
// Transform and Compose follow ot-json0 1.1.0 (the npm package ShareDB
// uses) rule for rule, including its tie-breaks and its quirks (compose
// cancels an li followed by an ld only for scalar values, as the reference
// compares objects by identity). A differential test runs both on
// thousands of random cases and requires identical results. Deliberate
// differences, all on input the reference would accept without checking:
//
//   - Apply checks: od, ld and sd must equal the current value; list indexes, lm
//     targets and string offsets must be in range (the reference clamps or
//     pads); paths must exist; string keys address objects only and int
//     indexes lists only; the root cannot be replaced with an empty-path oi
//     (ShareDB create/del do that). Errors wrap ErrPathNotFound,
//     ErrMismatch, ErrWrongType, ErrOutOfRange or ErrMalformed.
//   - An oi without od on a key that exists replaces the value, as in the
//     reference (Teable's clients send that for a cell they hold empty);
//     ApplyFilled returns the op with the replaced value as its od, the op
//     to keep, since Invert and Transform need it.
//   - An si/sd component is transformed against a concurrent text0
//     component on the same string (the reference leaves the two forms
//     untransformed against each other, which diverges).
//   - Only the text0 subtype is known; other "t" values are malformed.
//   - Malformed components (mixed kinds, wrong key types, negative
//     indexes) are errors from Validate, never panics.
package json0
