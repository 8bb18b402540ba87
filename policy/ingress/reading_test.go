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

// readingTable parses the table under heading in docs/<doc>. A "|" inside a cell is written "\|"
// (Markdown's escape).
func readingTable(t *testing.T, doc, heading string) []readingRow {
	text, err := os.ReadFile("../../docs/" + doc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), heading+"\n")
	if !ok {
		t.Fatalf("docs/%s has no section %q", doc, heading)
	}
	if i := strings.Index(section, "\n#"); i >= 0 {
		section = section[:i]
	}
	var rows []readingRow
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "\x00"), "|")
		if len(cells) != 8 {
			t.Fatalf("docs/%s: want 6 cells in %q", doc, line)
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
	rows := readingTable(t, "ingress-nginx.md", "## Annotations that decide who gets in")
	if len(rows) < 20 {
		t.Fatalf("read %d rows from docs/ingress-nginx.md", len(rows))
	}
	for _, row := range rows {
		if row.rule == "" || len(row.denied) == 0 {
			t.Fatalf("row %s names no rule or no denied value", row.annotation)
		}
	}
	judgeReadings(t, testReviewer(t), rows)
}

// TestProviderReading: the same for docs/traefik.md's table of how Traefik's NGINX provider
// reads the annotations, on a class it serves. A row naming no rule is an annotation the
// provider does not read: no finding may name it, whatever its value.
func TestProviderReading(t *testing.T) {
	rows := readingTable(t, "traefik.md", "### Annotations, as the provider reads them")
	if len(rows) < 15 {
		t.Fatalf("read %d rows from docs/traefik.md", len(rows))
	}
	judgeReadings(t, nginxProviderReviewer(t), rows)
}

// judgeReadings judges each row's values on an Ingress of class nginx (denied ones must raise
// the row's rule, as a denial or a warning; admitted ones must not).
func judgeReadings(t *testing.T, r *policy.Reviewer, rows []readingRow) {
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
		return append(d.Violations, d.Warnings...)
	}
	// has reports a finding of rule id, or with no id, any finding on the annotation.
	has := func(vs []policy.Violation, id, annotation string) bool {
		for _, v := range vs {
			if v.ID == id || id == "" && strings.Contains(v.Field, prefix+annotation) {
				return true
			}
		}
		return false
	}
	for _, row := range rows {
		t.Run(row.annotation, func(t *testing.T) {
			if len(row.denied)+len(row.admitted) == 0 {
				t.Fatalf("row %s lists no value", row.annotation)
			}
			for _, v := range row.denied {
				if vs := judge(t, row, v); !has(vs, row.rule, row.annotation) {
					t.Errorf("%s: %q: want [%s] (or, with no rule, a finding on the annotation), got %v", row.annotation, v, row.rule, vs)
				}
			}
			for _, v := range row.admitted {
				if vs := judge(t, row, v); has(vs, row.rule, row.annotation) {
					t.Errorf("%s: %q: want no [%s], got %v", row.annotation, v, row.rule, vs)
				}
			}
		})
	}
}
