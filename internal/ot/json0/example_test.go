package json0_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tablecast/tablecast/internal/ot/json0"
)

func decode(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func ExampleApply() {
	doc := decode(`{"fields":{"name":"Ada","tags":["a"]}}`)
	var op json0.Op
	if err := json.Unmarshal([]byte(`[
		{"p":["fields","name"],"od":"Ada","oi":"Ada L."},
		{"p":["fields","tags",1],"li":"b"}
	]`), &op); err != nil {
		fmt.Println(err)
		return
	}
	out, err := json0.Apply(doc, op)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(show(out))
	fmt.Println(show(doc)) // unchanged
	// Output:
	// {"fields":{"name":"Ada L.","tags":["a","b"]}}
	// {"fields":{"name":"Ada","tags":["a"]}}
}

func ExampleApply_mismatch() {
	doc := decode(`{"n":1}`)
	_, err := json0.Apply(doc, json0.Op{json0.ObjectDelete([]any{"n"}, 2.0)})
	fmt.Println(errors.Is(err, json0.ErrMismatch))
	fmt.Println(err)
	// Output:
	// true
	// json0: component 0 at ["n"]: value does not match the document: od does not match the value at key "n"
}

func ExampleTransform() {
	// Two clients insert into the same list at the same index.
	doc := decode(`{"l":["x"]}`)
	a := json0.Op{json0.ListInsert([]any{"l", 0}, "a")}
	b := json0.Op{json0.ListInsert([]any{"l", 0}, "b")}

	a2, _ := json0.Transform(a, b, json0.Left)  // a, after b
	b2, _ := json0.Transform(b, a, json0.Right) // b, after a
	docA, _ := json0.Apply(doc, a)
	docB, _ := json0.Apply(doc, b)
	ab, _ := json0.Apply(docA, b2)
	ba, _ := json0.Apply(docB, a2)
	fmt.Println(show(a2), show(b2))
	fmt.Println(show(ab), show(ba))
	// Output:
	// [{"p":["l",0],"li":"a"}] [{"p":["l",1],"li":"b"}]
	// {"l":["a","b","x"]} {"l":["a","b","x"]}
}

func ExampleCompose() {
	a := json0.Op{json0.NumberAdd([]any{"n"}, 1), json0.StringInsert([]any{"s"}, 0, "ab")}
	b := json0.Op{json0.StringInsert([]any{"s"}, 2, "c")}
	fmt.Println(show(json0.Compose(a, b)))
	// Output:
	// [{"p":["n"],"na":1},{"p":["s",0],"si":"abc"}]
}

func ExampleInvert() {
	op := json0.Op{
		json0.ObjectInsert([]any{"k"}, nil),
		json0.ListMove([]any{"l", 0}, 2),
		json0.Text([]any{"s"}, json0.TextOp{{P: 1, I: "hi"}}),
	}
	inv, err := json0.Invert(op)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(show(inv))
	// Output:
	// [{"p":["s"],"t":"text0","o":[{"p":1,"d":"hi"}]},{"p":["l",2],"lm":0},{"p":["k"],"od":null}]
}
