package table

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldType is the type of a field, which decides the values it holds.
type FieldType string

// The field types.
const (
	TypeText           FieldType = "text"            // one string
	TypeLongText       FieldType = "long_text"       // one long string
	TypeNumber         FieldType = "number"          // a decimal with Decimals places
	TypeBoolean        FieldType = "boolean"         // true or false
	TypeDate           FieldType = "date"            // a date, or a UTC date-time with IncludeTime
	TypeSingleSelect   FieldType = "single_select"   // one choice id
	TypeMultipleSelect FieldType = "multiple_select" // a list of choice ids
)

// Limits of fields and their options.
const (
	MaxNameLength     = 255 // characters of a field, view or choice name
	MaxDecimals       = 10  // decimal places of a number field
	MaxChoices        = 1000
	MaxColorLength    = 255
	MaxNumberDigits   = 15        // significant digits of a number, and digits before its point
	MaxTextLength     = 10_000    // characters of a text value
	MaxLongTextLength = 1_000_000 // characters of a long_text value
)

// Valid reports whether t is one of the field types.
func (t FieldType) Valid() bool {
	switch t {
	case TypeText, TypeLongText, TypeNumber, TypeBoolean, TypeDate, TypeSingleSelect, TypeMultipleSelect:
		return true
	}
	return false
}

// IsText reports whether t holds strings: text and long_text.
func (t FieldType) IsText() bool { return t == TypeText || t == TypeLongText }

// IsSelect reports whether t holds choice ids: single_select and multiple_select.
func (t FieldType) IsSelect() bool { return t == TypeSingleSelect || t == TypeMultipleSelect }

// Choice is one option of a select field. An ID of 0 in a request means a
// new choice: the store assigns it an id unique within the field.
type Choice struct {
	ID    int64  `json:"id"`
	Value string `json:"value"`
	Color string `json:"color"`
}

// FieldOptions holds the options of every type; only the ones of the
// field's type may be set (ValidateField).
type FieldOptions struct {
	Decimals    int      // number: places after the decimal point, 0..MaxDecimals
	IncludeTime bool     // date: the value is a UTC date-time, not a date
	Choices     []Choice // single_select, multiple_select: in display order
}

// Field is a column of a table.
type Field struct {
	ID      int64
	TableID int64
	Name    string
	Type    FieldType
	Primary bool // the field that names a row; a table has exactly one
	Order   int  // position among the table's fields
	Options FieldOptions
	// Version is the stored field's version: 1 when created, +1 on each
	// update (the native protocol's document version). 0 for a field not
	// stored yet.
	Version int64
}

// Choice returns the choice with the given id.
func (f *Field) Choice(id int64) (Choice, bool) {
	for _, c := range f.Options.Choices {
		if c.ID == id {
			return c, true
		}
	}
	return Choice{}, false
}

// Clone returns a deep copy of f.
func (f *Field) Clone() *Field {
	c := *f
	if f.Options.Choices != nil {
		c.Options.Choices = append([]Choice(nil), f.Options.Choices...)
	}
	return &c
}

// fieldJSON is the REST shape of a field. Options are nested, and only the
// ones of the field's type are written.
type fieldJSON struct {
	ID      int64        `json:"id,omitempty"`
	TableID int64        `json:"table_id,omitempty"`
	Name    string       `json:"name"`
	Type    FieldType    `json:"type"`
	Primary bool         `json:"primary"`
	Order   int          `json:"order"`
	Options *optionsJSON `json:"options,omitempty"`
	Version int64        `json:"version"`
}

type optionsJSON struct {
	Decimals    *int      `json:"decimals,omitempty"`
	IncludeTime *bool     `json:"include_time,omitempty"`
	Choices     *[]Choice `json:"choices,omitempty"`
}

// MarshalJSON writes {"id","table_id","name","type","primary","order","options"?,"version"}
// where options holds decimals (number), include_time (date) or choices
// (selects) and is left out for text types.
func (f Field) MarshalJSON() ([]byte, error) {
	j := fieldJSON{ID: f.ID, TableID: f.TableID, Name: f.Name, Type: f.Type, Primary: f.Primary, Order: f.Order,
		Version: f.Version}
	switch f.Type {
	case TypeNumber:
		d := f.Options.Decimals
		j.Options = &optionsJSON{Decimals: &d}
	case TypeDate:
		it := f.Options.IncludeTime
		j.Options = &optionsJSON{IncludeTime: &it}
	case TypeSingleSelect, TypeMultipleSelect:
		cs := f.Options.Choices
		if cs == nil {
			cs = []Choice{}
		}
		j.Options = &optionsJSON{Choices: &cs}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the REST shape {name, type, options?}; id, table_id,
// primary, order and version are read too, so that a field written by
// MarshalJSON reads back. Unknown keys are an error, and so is an option that the type
// does not have (a *ValidationError naming it). Values are checked by
// ValidateField.
func (f *Field) UnmarshalJSON(b []byte) error {
	var j fieldJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*f = Field{ID: j.ID, TableID: j.TableID, Name: j.Name, Type: j.Type, Primary: j.Primary, Order: j.Order,
		Version: j.Version}
	if j.Options == nil {
		return nil
	}
	var verr *ValidationError
	if o := j.Options; o.Decimals != nil {
		if j.Type != TypeNumber {
			verr = verr.Add("options.decimals", "only number fields have decimals")
		}
		f.Options.Decimals = *o.Decimals
	}
	if o := j.Options; o.IncludeTime != nil {
		if j.Type != TypeDate {
			verr = verr.Add("options.include_time", "only date fields have include_time")
		}
		f.Options.IncludeTime = *o.IncludeTime
	}
	if o := j.Options; o.Choices != nil {
		if !j.Type.IsSelect() {
			verr = verr.Add("options.choices", "only select fields have choices")
		}
		f.Options.Choices = *o.Choices
		if f.Options.Choices == nil {
			f.Options.Choices = []Choice{}
		}
	}
	return verr.Err()
}

// ValidateField checks a field's name, type and options on their own; a
// table-wide check (names unique, one primary field) is ValidateFields.
// Choice ids must be unique within the field (0 is a new choice and may
// repeat) and values non-empty; values may repeat, and a value given for a
// select then means the first choice with it.
func ValidateField(f *Field) *ValidationError {
	var e *ValidationError
	if msg := checkName(f.Name); msg != "" {
		e = e.Add("name", msg)
	}
	if !f.Type.Valid() {
		return e.Add("type", "unknown field type "+strconv.Quote(string(f.Type))+
			"; one of text, long_text, number, boolean, date, single_select, multiple_select")
	}
	o := &f.Options
	if f.Type == TypeNumber {
		if o.Decimals < 0 || o.Decimals > MaxDecimals {
			e = e.Add("options.decimals", "must be from 0 to "+strconv.Itoa(MaxDecimals))
		}
	} else if o.Decimals != 0 {
		e = e.Add("options.decimals", "only number fields have decimals")
	}
	if o.IncludeTime && f.Type != TypeDate {
		e = e.Add("options.include_time", "only date fields have include_time")
	}
	if !f.Type.IsSelect() {
		if len(o.Choices) > 0 {
			e = e.Add("options.choices", "only select fields have choices")
		}
		return e
	}
	if len(o.Choices) > MaxChoices {
		return e.Add("options.choices", "at most "+strconv.Itoa(MaxChoices)+" choices")
	}
	seen := make(map[int64]int, len(o.Choices))
	for i, c := range o.Choices {
		key := ItemKey("options.choices", i)
		switch {
		case c.ID < 0:
			e = e.Add(key+".id", "must not be negative")
		case c.ID > 0:
			if j, dup := seen[c.ID]; dup {
				e = e.Add(key+".id", "repeats the id of choice "+strconv.Itoa(j))
			}
			seen[c.ID] = i
		}
		if strings.TrimSpace(c.Value) == "" {
			e = e.Add(key+".value", "must not be empty")
		} else if utf8.RuneCountInString(c.Value) > MaxNameLength {
			e = e.Add(key+".value", "at most "+strconv.Itoa(MaxNameLength)+" characters")
		} else if strings.IndexByte(c.Value, 0) >= 0 {
			e = e.Add(key+".value", "must not contain NUL characters")
		}
		if len(c.Color) > MaxColorLength {
			e = e.Add(key+".color", "at most "+strconv.Itoa(MaxColorLength)+" characters")
		}
	}
	return e
}

// ValidateFields checks the fields of one table: each with ValidateField
// (keys under "fields[i]"), names unique, at most one primary field.
func ValidateFields(fields []*Field) *ValidationError {
	var e *ValidationError
	names := make(map[string]int, len(fields))
	primary := -1
	for i, f := range fields {
		key := ItemKey("fields", i)
		e = e.Merge(key, ValidateField(f))
		name := strings.TrimSpace(f.Name)
		if j, dup := names[name]; dup && name != "" {
			e = e.Add(key+".name", "repeats the name of field "+strconv.Itoa(j))
		} else {
			names[name] = i
		}
		if f.Primary {
			if primary >= 0 {
				e = e.Add(key+".primary", "field "+strconv.Itoa(primary)+" is already primary")
			} else {
				primary = i
			}
		}
	}
	return e
}

// checkName returns what is wrong with a field or view name, or "".
func checkName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "must not be empty"
	case utf8.RuneCountInString(name) > MaxNameLength:
		return "at most " + strconv.Itoa(MaxNameLength) + " characters"
	case strings.IndexByte(name, 0) >= 0:
		return "must not contain NUL characters"
	}
	return ""
}
