package ingress_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy"
)

// readingRow is one row of docs/ingress-nginx.md's table of annotations that decide who gets in.
type readingRow struct {
	annotation string
	with       map[string]string
	rule       string
	denied     []string
	admitted   []string
}

var codeSpan = regexp.MustCompile("`([^`]*)`")

// spans are the values a cell lists, as code spans; a quoted span is a Go string literal (so
// that leading spaces and the empty value can be written).
func spans(t *testing.T, cell string) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(cell, -1) {
		v := m[1]
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				t.Fatalf("docs/ingress-nginx.md: %s: %v", v, err)
			}
			v = u
		}
		out = append(out, v)
	}
	return out
}

// readingTable parses the table under "## Annotations that decide who gets in". A "|" inside a
// cell is written "\|" (Markdown's escape).
func readingTable(t *testing.T) []readingRow {
	doc, err := os.ReadFile("../../docs/ingress-nginx.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Annotations that decide who gets in")
	if !ok {
		t.Fatal("docs/ingress-nginx.md has no section \"## Annotations that decide who gets in\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []readingRow
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "\x00"), "|")
		if len(cells) != 8 {
			t.Fatalf("docs/ingress-nginx.md: want 6 cells in %q", line)
		}
		row := readingRow{annotation: spans(t, cells[1])[0], with: map[string]string{}, denied: spans(t, cells[5]), admitted: spans(t, cells[6])}
		for _, w := range spans(t, cells[2]) {
			k, v, _ := strings.Cut(w, ": ")
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			row.with[k] = v
		}
		if r := spans(t, cells[4]); len(r) > 0 {
			row.rule = r[0]
		}
		rows = append(rows, row)
	}
	return rows
}

// TestControllerReading judges, through the whole core, every spelling docs/ingress-nginx.md
// lists for each annotation: the denied ones must be reported under the row's rule, the
// admitted ones must not.
func TestControllerReading(t *testing.T) {
	r := testReviewer(t)
	rows := readingTable(t)
	if len(rows) < 20 {
		t.Fatalf("read %d rows from docs/ingress-nginx.md", len(rows))
	}
	const prefix = "nginx.ingress.kubernetes.io/"
	judge := func(t *testing.T, row readingRow, value string) []policy.Violation {
		annotations := map[string]string{prefix + row.annotation: value}
		for k, v := range row.with {
			annotations[prefix+k] = v
		}
		obj, _ := json.Marshal(map[string]any{
			"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
			"metadata": map[string]any{"name": "grafana", "namespace": "monitoring", "annotations": annotations},
			"spec":     map[string]any{"ingressClassName": "nginx", "rules": []any{map[string]any{"host": "grafana.private.example.com"}}},
		})
		d, err := r.Review(context.Background(), create("monitoring", obj))
		if err != nil {
			t.Fatal(err)
		}
		return d.Violations
	}
	has := func(vs []policy.Violation, id string) bool {
		for _, v := range vs {
			if v.ID == id {
				return true
			}
		}
		return false
	}
	for _, row := range rows {
		t.Run(row.annotation, func(t *testing.T) {
			if row.rule == "" || len(row.denied) == 0 {
				t.Fatalf("row %s names no rule or no denied value", row.annotation)
			}
			for _, v := range row.denied {
				if vs := judge(t, row, v); !has(vs, row.rule) {
					t.Errorf("%s: %q: want [%s], got %v", row.annotation, v, row.rule, vs)
				}
			}
			for _, v := range row.admitted {
				if vs := judge(t, row, v); has(vs, row.rule) {
					t.Errorf("%s: %q: want no [%s], got %v", row.annotation, v, row.rule, vs)
				}
			}
		})
	}
}
