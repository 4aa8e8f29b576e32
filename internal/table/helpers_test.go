package table

import (
	"encoding/json"
	"testing"
)

// The fields of the test table, one of every type.
const (
	fText     int64 = 1
	fLong     int64 = 2
	fNum      int64 = 3 // 2 decimals
	fBool     int64 = 4
	fDate     int64 = 5
	fDateTime int64 = 6
	fSingle   int64 = 7
	fMulti    int64 = 8
	fInt      int64 = 9 // 0 decimals
)

var testChoices = []Choice{
	{ID: 10, Value: "Red", Color: "red"},
	{ID: 11, Value: "green", Color: "green"},
	{ID: 12, Value: "Blue sky", Color: "blue"},
	{ID: 13, Value: "Ärger", Color: "dark-red"},
}

func testFields() map[int64]*Field {
	fs := []*Field{
		{ID: fText, TableID: 1, Name: "Name", Type: TypeText, Primary: true},
		{ID: fLong, TableID: 1, Name: "Notes", Type: TypeLongText, Order: 1},
		{ID: fNum, TableID: 1, Name: "Price", Type: TypeNumber, Order: 2, Options: FieldOptions{Decimals: 2}},
		{ID: fBool, TableID: 1, Name: "Done", Type: TypeBoolean, Order: 3},
		{ID: fDate, TableID: 1, Name: "Due", Type: TypeDate, Order: 4},
		{ID: fDateTime, TableID: 1, Name: "At", Type: TypeDate, Order: 5, Options: FieldOptions{IncludeTime: true}},
		{ID: fSingle, TableID: 1, Name: "Colour", Type: TypeSingleSelect, Order: 6, Options: FieldOptions{Choices: testChoices}},
		{ID: fMulti, TableID: 1, Name: "Tags", Type: TypeMultipleSelect, Order: 7, Options: FieldOptions{Choices: testChoices}},
		{ID: fInt, TableID: 1, Name: "Count", Type: TypeNumber, Order: 8},
	}
	m := make(map[int64]*Field, len(fs))
	for _, f := range fs {
		m[f.ID] = f
	}
	return m
}

// row builds Values from field id and raw JSON pairs.
func row(kv ...any) Values {
	v := make(Values, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		v[kv[i].(int64)] = json.RawMessage(kv[i+1].(string))
	}
	return v
}

// mustCompile compiles filters joined by AND.
func mustCompile(t testing.TB, fs FilterSet) *Predicate {
	t.Helper()
	p, err := Compile(fs, testFields())
	if err != nil {
		t.Fatalf("Compile(%+v): %v", fs, err)
	}
	return p
}

// wantDetailKeys checks that err is a validation error whose details are
// keys, no more and no fewer; what names the case.
func wantDetailKeys(t *testing.T, what string, err error, keys []string) {
	t.Helper()
	got := detailKeys(err)
	if len(got) != len(keys) {
		t.Errorf("%s: %v; want keys %v", what, err, keys)
		return
	}
	for _, k := range keys {
		if got[k] == "" {
			t.Errorf("%s: no %s in %v", what, k, got)
		}
	}
}

func detailKeys(err error) map[string]string {
	if ve := AsValidation(err, ""); ve != nil {
		return ve.Details
	}
	return nil
}
