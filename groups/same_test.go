package groups_test

import (
	"testing"

	"github.com/privgate/privgate/groups"
)

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
