package table

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestFieldJSON(t *testing.T) {
	for _, f := range testFields() {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var back Field
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Errorf("round trip: %s became %s", b, b2)
		}
	}
	b, _ := json.Marshal(testFields()[fNum])
	if string(b) != `{"id":3,"table_id":1,"name":"Price","type":"number","primary":false,"order":2,"options":{"decimals":2},"version":0}` {
		t.Errorf("number field JSON = %s", b)
	}
	b, _ = json.Marshal(&Field{ID: 1, Name: "S", Type: TypeSingleSelect})
	if !strings.Contains(string(b), `"options":{"choices":[]}`) {
		t.Errorf("select field without choices = %s", b)
	}
	b, _ = json.Marshal(testFields()[fText])
	if strings.Contains(string(b), "options") {
		t.Errorf("text field JSON = %s", b)
	}

	var f Field
	in := `{"name":"When","type":"date","options":{"include_time":true}}`
	if err := json.Unmarshal([]byte(in), &f); err != nil || !f.Options.IncludeTime || f.Type != TypeDate || ValidateField(&f) != nil {
		t.Errorf("%s: %+v, %v", in, f, err)
	}
	in = `{"name":"Tags","type":"multiple_select","options":{"choices":[{"value":"a","color":"red"},{"id":4,"value":"b","color":""}]}}`
	if err := json.Unmarshal([]byte(in), &f); err != nil || len(f.Options.Choices) != 2 || f.Options.Choices[1].ID != 4 {
		t.Errorf("%s: %+v, %v", in, f, err)
	}
	for in, key := range map[string]string{
		`{"name":"x","type":"text","options":{"decimals":2}}`:          "options.decimals",
		`{"name":"x","type":"number","options":{"include_time":true}}`: "options.include_time",
		`{"name":"x","type":"date","options":{"choices":[]}}`:          "options.choices",
	} {
		err := json.Unmarshal([]byte(in), &f)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Details[key] == "" {
			t.Errorf("%s: %v, want a detail for %s", in, err, key)
		}
	}
	for _, in := range []string{
		`{"name":"x","type":"text","colour":"red"}`,
		`{"name":"x","type":"number","options":{"decimal_places":2}}`,
		`{"name":"x","type":"single_select","options":{"choices":[{"value":"a","extra":1}]}}`,
		`{"name":1}`,
		`[]`,
	} {
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func TestValidateField(t *testing.T) {
	ok := []*Field{
		{Name: "n", Type: TypeText},
		{Name: "n", Type: TypeNumber, Options: FieldOptions{Decimals: 10}},
		{Name: "n", Type: TypeDate, Options: FieldOptions{IncludeTime: true}},
		{Name: "n", Type: TypeSingleSelect},
		{Name: "n", Type: TypeMultipleSelect, Options: FieldOptions{Choices: []Choice{{Value: "a"}, {Value: "b"}, {ID: 3, Value: "a"}}}},
		{Name: strings.Repeat("é", MaxNameLength), Type: TypeBoolean},
	}
	for _, f := range ok {
		if err := ValidateField(f); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	bad := []struct {
		f   Field
		key string
	}{
		{Field{Name: "", Type: TypeText}, "name"},
		{Field{Name: "   ", Type: TypeText}, "name"},
		{Field{Name: strings.Repeat("a", MaxNameLength+1), Type: TypeText}, "name"},
		{Field{Name: "a\x00", Type: TypeText}, "name"},
		{Field{Name: "n", Type: "rating"}, "type"},
		{Field{Name: "n", Type: ""}, "type"},
		{Field{Name: "n", Type: TypeNumber, Options: FieldOptions{Decimals: 11}}, "options.decimals"},
		{Field{Name: "n", Type: TypeNumber, Options: FieldOptions{Decimals: -1}}, "options.decimals"},
		{Field{Name: "n", Type: TypeText, Options: FieldOptions{Decimals: 2}}, "options.decimals"},
		{Field{Name: "n", Type: TypeText, Options: FieldOptions{IncludeTime: true}}, "options.include_time"},
		{Field{Name: "n", Type: TypeBoolean, Options: FieldOptions{Choices: []Choice{{Value: "a"}}}}, "options.choices"},
		{Field{Name: "n", Type: TypeSingleSelect, Options: FieldOptions{Choices: []Choice{{ID: 1, Value: "a"}, {ID: 1, Value: "b"}}}}, "options.choices[1].id"},
		{Field{Name: "n", Type: TypeSingleSelect, Options: FieldOptions{Choices: []Choice{{ID: -1, Value: "a"}}}}, "options.choices[0].id"},
		{Field{Name: "n", Type: TypeSingleSelect, Options: FieldOptions{Choices: []Choice{{Value: "a"}, {Value: " "}}}}, "options.choices[1].value"},
		{Field{Name: "n", Type: TypeSingleSelect, Options: FieldOptions{Choices: []Choice{{Value: strings.Repeat("v", MaxNameLength+1)}}}}, "options.choices[0].value"},
		{Field{Name: "n", Type: TypeSingleSelect, Options: FieldOptions{Choices: []Choice{{Value: "a", Color: strings.Repeat("c", MaxColorLength+1)}}}}, "options.choices[0].color"},
		{Field{Name: "n", Type: TypeSingleSelect, Options: FieldOptions{Choices: make([]Choice, MaxChoices+1)}}, "options.choices"},
	}
	for _, b := range bad {
		err := ValidateField(&b.f)
		if err == nil || err.Details[b.key] == "" {
			t.Errorf("%+v: %v, want a detail for %s", b.f.Options, err, b.key)
		}
	}
}

func TestValidateFields(t *testing.T) {
	fs := []*Field{
		{Name: "Name", Type: TypeText, Primary: true},
		{Name: "Name", Type: TypeNumber},
		{Name: "Other", Type: TypeText, Primary: true},
		{Name: "", Type: "x"},
	}
	err := ValidateFields(fs)
	for _, k := range []string{"fields[1].name", "fields[2].primary", "fields[3].name", "fields[3].type"} {
		if err == nil || err.Details[k] == "" {
			t.Errorf("no %s in %v", k, err)
		}
	}
	if err := ValidateFields(fs[:1]); err != nil {
		t.Error(err)
	}
}

func TestFieldHelpers(t *testing.T) {
	f := testFields()[fSingle]
	if c, ok := f.Choice(12); !ok || c.Value != "Blue sky" {
		t.Errorf("Choice(12) = %v, %v", c, ok)
	}
	if _, ok := f.Choice(1); ok {
		t.Error("Choice(1) found")
	}
	c := f.Clone()
	c.Options.Choices[0].Value = "changed"
	if f.Options.Choices[0].Value != "Red" {
		t.Error("Clone shares choices")
	}
	if !TypeLongText.IsText() || TypeNumber.IsText() || !TypeMultipleSelect.IsSelect() || FieldType("x").Valid() {
		t.Error("FieldType predicates")
	}
}

func TestValidationError(t *testing.T) {
	var e *ValidationError
	if e.Err() != nil {
		t.Error("nil Err")
	}
	e = e.Add("b", "two").Add("a", "one").Add("a", "ignored")
	if e.Error() != "invalid request: a: one; b: two" {
		t.Errorf("Error = %q", e.Error())
	}
	p := e.Prefixed("items[2]")
	if p.Details["items[2].a"] != "one" || len(p.Details) != 2 || e.Details["a"] != "one" {
		t.Errorf("Prefixed = %v", p.Details)
	}
	if JoinKey("filters", "[1].value") != "filters[1].value" || JoinKey("", "x") != "x" || JoinKey("x", "") != "x" {
		t.Error("JoinKey")
	}
	err := error(&ValueError{Field: 7, Reason: "must be a number"})
	if err.Error() != "field 7: must be a number" {
		t.Errorf("ValueError = %q", err)
	}
	if v := AsValidation(err, ItemKey("items", 0)); v.Details["items[0].fields.7"] != "must be a number" {
		t.Errorf("AsValidation = %v", v)
	}
	if AsValidation(errors.New("x"), "") != nil || ((*ValidationError)(nil)).Prefixed("x") != nil {
		t.Error("AsValidation of another error")
	}
}

// The version is written and read back, so that event payloads keep it.
func TestFieldJSONVersion(t *testing.T) {
	f := Field{ID: 5, TableID: 1, Name: "N", Type: TypeNumber, Order: 1, Options: FieldOptions{Decimals: 1}, Version: 4}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":5,"table_id":1,"name":"N","type":"number","primary":false,"order":1,"options":{"decimals":1},"version":4}`; string(b) != want {
		t.Fatalf("JSON = %s\nwant %s", b, want)
	}
	var back Field
	if err := json.Unmarshal(b, &back); err != nil || back.Version != 4 {
		t.Fatalf("read back: %+v, %v", back, err)
	}
	if c := f.Clone(); c.Version != 4 {
		t.Fatalf("Clone lost the version: %+v", c)
	}
}
