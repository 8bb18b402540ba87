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

func TestSame(t *testing.T) {
	cases := []struct {
		name string
		a, b []string
		want bool
	}{
		{"same order", []string{"/sre", "/dev"}, []string{"/sre", "/dev"}, true},
		{"another order", []string{"/sre", "/dev"}, []string{"/dev", "/sre"}, true},
		{"repeated", []string{"/sre", "/sre"}, []string{"/sre"}, true},
		{"case differs", []string{"/SRE"}, []string{"/sre"}, false},
		{"subset", []string{"/sre"}, []string{"/sre", "/dev"}, false},
		{"none and some", nil, []string{"/sre"}, false},
	}
	for _, c := range cases {
		if got := groups.Same(c.a, c.b); got != c.want {
			t.Errorf("%s: Same(%q, %q) = %v, want %v", c.name, c.a, c.b, got, c.want)
		}
	}
}
