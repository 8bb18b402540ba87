package jsonterm

import (
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// viaMaps is the conversion Value replaces: decode to maps, let OPA convert them.
func viaMaps(b []byte) (ast.Value, error) {
	var doc any
	if err := util.UnmarshalJSON(b, &doc); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(doc)
}

func TestJSONValue(t *testing.T) {
	cases := map[string]string{
		"scalars":            `[true,false,null,0,-1,12.5e-3,1E10,"",123456789012345678901234567890]`,
		"nested":             `{"a":{"b":[{"c":"d"},[],{}]},"e":[1,[2,[3]]]}`,
		"escapes":            `{"q\"k":"a\\b\/c\n\t\u00e9\ud83d\ude00","k":"<&>\u2028"}`,
		"unicode":            `{"ключ":"значение","emoji":"😀"}`,
		"whitespace":         " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } } ",
		"repeated key":       `{"a":1,"b":2,"a":3}`,
		"many keys":          `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k3":33}`,
		"ingress-like input": `{"request":{"operation":"CREATE","dryRun":false},"object":{"metadata":{"annotations":{"nginx.ingress.kubernetes.io/auth-url":"https://o/a?allowed_groups=/x,/y"}},"spec":{"rules":[{"host":"a.example.com"}]}},"hosts":[{"host":"*","any":true}]}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := viaMaps([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Value([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if got.Compare(want) != 0 {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestJSONValueRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"empty": ``, "truncated": `{"a":[1,2`, "trailing": `{} {}`, "bare word": `nul`, "key not a string": `{1:2}`,
		"missing colon": `{"a" 1}`, "leading zero": `01`, "lone minus": `-`, "bad fraction": `1.`, "bad exponent": `1e`,
		"control character": "\"a\x01\"", "bad escape": `"\x"`, "unterminated": `"abc`, "missing comma": `[1 2]`,
	} {
		t.Run(name, func(t *testing.T) {
			if v, err := Value([]byte(doc)); err == nil {
				t.Errorf("accepted %q as %v", doc, v)
			}
		})
	}
}

// FuzzJSONValue checks the reader against the conversion it replaces: the same value for every
// document encoding/json accepts, and a refusal for every one it rejects. Validity is
// encoding/json's, not OPA's decoder's: that one reads the first value of a stream and ignores
// what follows (`0null00` is 0 to it), so it cannot be the oracle of what is a document
// (testdata/fuzz/FuzzJSONValue holds that input).
func FuzzJSONValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",null,true]}`, `"\u00e9"`, `-0.5e+3`, `{"a":1,"a":2}`, `[[[]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			if v, err := Value(b); err == nil {
				t.Fatalf("accepted %q as %v, which encoding/json rejects", b, v)
			}
			return
		}
		want, err := viaMaps(b)
		if err != nil {
			t.Fatalf("OPA cannot convert %q, which encoding/json accepts: %v", b, err)
		}
		got, err := Value(b)
		if err != nil {
			t.Fatalf("rejected %q, which encoding/json reads as %v: %v", b, want, err)
		}
		if got.Compare(want) != 0 {
			t.Fatalf("%q: got %v, want %v", b, got, want)
		}
	})
}
