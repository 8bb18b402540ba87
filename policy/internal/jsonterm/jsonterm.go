// Package jsonterm reads a JSON document straight into OPA's AST terms: the value
// ast.InterfaceToValue would make of the document decoded, without the maps in between. The
// policy input is read this way on every decision (a third of the allocations outside Rego went
// to the maps).
package jsonterm

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Value reads one JSON document into the value OPA would make of it
// (ast.InterfaceToValue of its decoded form, numbers kept as written). Strings are slices of one
// copy of the document, and each object's or array's terms are allocated together.
func Value(b []byte) (ast.Value, error) {
	p := jsonReader{doc: string(b)}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.doc) {
		return nil, p.fail("data after the value")
	}
	return v, nil
}

// maxDepth bounds nesting, as encoding/json does, so that no input can exhaust the stack.
const maxDepth = 10000

type jsonReader struct {
	doc   string
	i     int
	stack []ast.Value // members of the containers being read, innermost last
	pairs [][2]*ast.Term
}

var errJSONEnd = errors.New("read input: unexpected end of JSON")

func (p *jsonReader) fail(what string) error {
	return fmt.Errorf("read input: %s at offset %d", what, p.i)
}

func (p *jsonReader) space() {
	for p.i < len(p.doc) {
		switch p.doc[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonReader) value(depth int) (ast.Value, error) {
	if depth > maxDepth {
		return nil, p.fail("nesting too deep")
	}
	p.space()
	if p.i >= len(p.doc) {
		return nil, errJSONEnd
	}
	switch c := p.doc[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return ast.InternedValue(s), nil
	case c == 't':
		return p.literal("true", ast.InternedValue(true))
	case c == 'f':
		return p.literal("false", ast.InternedValue(false))
	case c == 'n':
		return p.literal("null", ast.NullValue)
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, p.fail(fmt.Sprintf("unexpected %q", p.doc[p.i]))
}

func (p *jsonReader) literal(word string, v ast.Value) (ast.Value, error) {
	if len(p.doc)-p.i < len(word) || p.doc[p.i:p.i+len(word)] != word {
		return nil, p.fail("invalid literal")
	}
	p.i += len(word)
	return v, nil
}

// number reads a JSON number by its grammar and keeps its text, as json.Number does.
func (p *jsonReader) number() (ast.Value, error) {
	start := p.i
	if p.doc[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.doc) && p.doc[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return nil, p.fail("invalid number")
	}
	if p.i < len(p.doc) && p.doc[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	if p.i < len(p.doc) && (p.doc[p.i] == 'e' || p.doc[p.i] == 'E') {
		p.i++
		if p.i < len(p.doc) && (p.doc[p.i] == '+' || p.doc[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	text := p.doc[start:p.i]
	if t := ast.InternedIntNumberTermFromString(text); t != nil {
		return t.Value, nil
	}
	return ast.Number(text), nil
}

func (p *jsonReader) digits() int {
	start := p.i
	for p.i < len(p.doc) && p.doc[p.i] >= '0' && p.doc[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

// str reads a string. One without escapes is a slice of the document; the rare one with escapes
// or invalid UTF-8 is decoded by encoding/json, so that it reads exactly as it does there.
func (p *jsonReader) str() (string, error) {
	start := p.i
	p.i++ // the opening quote
	escaped, nonASCII := false, false
	for p.i < len(p.doc) {
		switch c := p.doc[p.i]; {
		case c == '"':
			p.i++
			if s := p.doc[start+1 : p.i-1]; !escaped && (!nonASCII || utf8.ValidString(s)) {
				return s, nil
			}
			var s string
			if err := json.Unmarshal([]byte(p.doc[start:p.i]), &s); err != nil {
				return "", fmt.Errorf("read input: string at offset %d: %w", start, err)
			}
			return s, nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return "", p.fail("control character in string")
		case c >= utf8.RuneSelf:
			nonASCII = true
			p.i++
		default:
			p.i++
		}
	}
	return "", errJSONEnd
}

func (p *jsonReader) object(depth int) (ast.Value, error) {
	p.i++ // {
	base := len(p.stack)
	p.space()
	if p.i < len(p.doc) && p.doc[p.i] == '}' {
		p.i++
		return ast.NewObject(), nil
	}
	for {
		p.space()
		if p.i >= len(p.doc) {
			return nil, errJSONEnd
		}
		if p.doc[p.i] != '"' {
			return nil, p.fail("expected a key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.doc) || p.doc[p.i] != ':' {
			return nil, p.fail("expected ':'")
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.stack = append(p.stack, ast.InternedValue(k), v)
		if done, err := p.next('}'); err != nil || done {
			if err != nil {
				return nil, err
			}
			break
		}
	}
	members := p.stack[base:]
	n := len(members) / 2
	terms := make([]ast.Term, len(members))
	// ast.NewObject copies the pairs into its own elements: one scratch slice serves every object.
	p.pairs = p.pairs[:0]
	for i := range n {
		terms[2*i].Value, terms[2*i+1].Value = members[2*i], members[2*i+1]
		p.pairs = append(p.pairs, [2]*ast.Term{&terms[2*i], &terms[2*i+1]})
	}
	pairs := p.pairs
	clear(members)
	p.stack = p.stack[:base]
	if !hasDuplicateKey(pairs) {
		return ast.NewObject(pairs...), nil
	}
	// A repeated key keeps its last value, as decoding into a map does (ast.NewObject would
	// keep both).
	obj := ast.NewObjectWithCapacity(n)
	for _, kv := range pairs {
		obj.Insert(kv[0], kv[1])
	}
	return obj, nil
}

// hasDuplicateKey reports whether a key repeats; json.Marshal never writes one, a hand-written
// object.raw might.
func hasDuplicateKey(pairs [][2]*ast.Term) bool {
	if len(pairs) > 16 {
		seen := make(map[ast.String]struct{}, len(pairs))
		for _, kv := range pairs {
			k := kv[0].Value.(ast.String)
			if _, ok := seen[k]; ok {
				return true
			}
			seen[k] = struct{}{}
		}
		return false
	}
	for i := 1; i < len(pairs); i++ {
		for j := range i {
			if pairs[i][0].Value.(ast.String) == pairs[j][0].Value.(ast.String) {
				return true
			}
		}
	}
	return false
}

func (p *jsonReader) array(depth int) (ast.Value, error) {
	p.i++ // [
	base := len(p.stack)
	p.space()
	if p.i < len(p.doc) && p.doc[p.i] == ']' {
		p.i++
		return ast.NewArray(), nil
	}
	for {
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.stack = append(p.stack, v)
		if done, err := p.next(']'); err != nil || done {
			if err != nil {
				return nil, err
			}
			break
		}
	}
	items := p.stack[base:]
	terms := make([]ast.Term, len(items))
	ptrs := make([]*ast.Term, len(items))
	for i, v := range items {
		terms[i].Value = v
		ptrs[i] = &terms[i]
	}
	clear(items)
	p.stack = p.stack[:base]
	return ast.NewArray(ptrs...), nil
}

// next reads the separator after a member: a comma (more follow) or the container's end.
func (p *jsonReader) next(end byte) (done bool, err error) {
	p.space()
	if p.i >= len(p.doc) {
		return false, errJSONEnd
	}
	switch p.doc[p.i] {
	case ',':
		p.i++
		return false, nil
	case end:
		p.i++
		return true, nil
	}
	return false, p.fail(fmt.Sprintf("expected ',' or %q", end))
}
