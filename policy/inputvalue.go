package policy

import (
	"encoding/json"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/privgate/privgate/policy/internal/jsonterm"
)

// value converts the input into OPA's value type through its JSON form, so that the JSON names of
// Input (and of the target's part) are the whole schema, read straight into AST terms.
func (in *Input) value() (ast.Value, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	return jsonterm.Value(b)
}
