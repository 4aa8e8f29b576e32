package json0

import (
	"fmt"
	"testing"
)

// benchDoc is a record-like document: {"id","order","fields":{f0..f49}}.
func benchDoc() any {
	fields := map[string]any{}
	for i := range 50 {
		switch i % 3 {
		case 0:
			fields[fmt.Sprintf("f%d", i)] = "some text value"
		case 1:
			fields[fmt.Sprintf("f%d", i)] = float64(i)
		default:
			fields[fmt.Sprintf("f%d", i)] = []any{"a", "b", "c"}
		}
	}
	return map[string]any{"id": "rec1", "order": 1.0, "fields": fields}
}

func BenchmarkApply(b *testing.B) {
	doc := benchDoc()
	ops := map[string]Op{
		"cell set":  {ObjectReplace([]any{"fields", "f0"}, "some text value", "new value")},
		"na":        {NumberAdd([]any{"fields", "f1"}, 1)},
		"si":        {StringInsert([]any{"fields", "f3"}, 4, "X")},
		"li":        {ListInsert([]any{"fields", "f2", 1}, "z")},
		"three ops": {NumberAdd([]any{"order"}, 1), StringInsert([]any{"fields", "f3"}, 0, "X"), ListMove([]any{"fields", "f2", 0}, 2)},
	}
	for name, op := range ops {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Apply(doc, op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTransform(b *testing.B) {
	pairs := map[string][2]Op{
		"cell set vs cell set": {
			{ObjectReplace([]any{"fields", "f0"}, "v", "a")},
			{ObjectReplace([]any{"fields", "f0"}, "v", "b")},
		},
		"disjoint cells": {
			{ObjectReplace([]any{"fields", "f0"}, "v", "a")},
			{ObjectReplace([]any{"fields", "f9"}, "v", "b")},
		},
		"si vs si": {
			{StringInsert([]any{"fields", "f3"}, 4, "X")},
			{StringInsert([]any{"fields", "f3"}, 2, "YY")},
		},
		"sd vs si": {
			{StringDelete([]any{"fields", "f3"}, 4, "X")},
			{StringInsert([]any{"fields", "f3"}, 2, "YY")},
		},
		"si vs sd": {
			{StringInsert([]any{"fields", "f3"}, 4, "X")},
			{StringDelete([]any{"fields", "f3"}, 0, "so")},
		},
		"li vs lm": {
			{ListInsert([]any{"fields", "f2", 1}, "z")},
			{ListMove([]any{"fields", "f2", 0}, 2)},
		},
		"3x3": {
			{NumberAdd([]any{"order"}, 1), StringInsert([]any{"fields", "f3"}, 0, "X"), ListInsert([]any{"fields", "f2", 0}, "q")},
			{ListDelete([]any{"fields", "f2", 0}, "a"), StringDelete([]any{"fields", "f3"}, 1, "o"), ObjectDelete([]any{"fields", "f1"}, 1.0)},
		},
	}
	for name, p := range pairs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Transform(p[0], p[1], Right); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
