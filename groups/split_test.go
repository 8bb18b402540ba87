package groups_test

import (
	"strings"
	"testing"

	"github.com/privgate/privgate/groups"
)

func TestSplit(t *testing.T) {
	cases := map[string][]string{
		"":                          nil,
		" , ,":                      nil,
		"/a":                        {"/a"},
		" /a , /b,/a,, /c ":         {"/a", "/b", "/c"},
		"SRE,Developer":             {"SRE", "Developer"},
		"/developers/frontend,/sre": {"/developers/frontend", "/sre"},
	}
	for in, want := range cases {
		got := groups.Split(in)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}
