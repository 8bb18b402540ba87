package policy_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy"
)

// TestArchitectureDocMatchesCode: docs/architecture.md shows the Target and Object interfaces;
// a method added or renamed here must be shown there too.
func TestArchitectureDocMatchesCode(t *testing.T) {
	doc, err := os.ReadFile("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[policy.Target](), reflect.TypeFor[policy.Object]()} {
		block := regexp.MustCompile(`(?s)type ` + typ.Name() + ` interface \{(.*?)\n\}`).FindSubmatch(doc)
		if block == nil {
			t.Errorf("docs/architecture.md does not show type %s interface", typ.Name())
			continue
		}
		var shown []string
		for _, m := range regexp.MustCompile(`(?m)^\t([A-Z]\w*)\(`).FindAllSubmatch(block[1], -1) {
			shown = append(shown, string(m[1]))
		}
		var methods []string
		for i := range typ.NumMethod() {
			methods = append(methods, typ.Method(i).Name)
		}
		slices.Sort(shown)
		if !slices.Equal(shown, methods) {
			t.Errorf("%s: docs/architecture.md shows %s, the code has %s", typ.Name(), strings.Join(shown, ","), strings.Join(methods, ","))
		}
	}
}
