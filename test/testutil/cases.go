package testutil

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/privgate/privgate/policy"
)

// A case file (testdata/cases/NAME.yaml of a target) is YAML documents: the last is judged
// against the ones before it, as the webhook judges an object against what is stored. Its first
// comment lines say what is expected: "# want: id, id" (none: admitted) and, optionally,
// "# operation: DELETE" (the last document is then stored too, and judged as deleted).

// CaseDoc is one document of a case file.
type CaseDoc struct {
	GVK             schema.GroupVersionKind
	Namespace, Name string
	Raw             []byte
}

// Case reads a case file and sets the scene as the webhook sees it: every document but the
// judged one (all of them for a DELETE) stored in a fresh index, which becomes r's Cluster. It
// returns the rule ids wanted (sorted) and the request for the last document.
func Case(t testing.TB, r *policy.Reviewer, file string) (want []string, req policy.Request) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, op := caseHeader(data)
	docs := CaseDocuments(t, data)
	index := policy.NewIndex()
	stored := docs[:len(docs)-1]
	if op == "DELETE" {
		stored = docs
	}
	for _, d := range stored {
		StoreCase(t, r, index, d)
	}
	r.Cluster = index
	last := docs[len(docs)-1]
	req = policy.Request{Kind: last.GVK, Operation: op, Namespace: last.Namespace, Name: last.Name, Object: last.Raw}
	if op == "DELETE" {
		req.Object, req.OldObject = nil, last.Raw
	}
	return want, req
}

// CaseVerdict holds a decision to the case: its rule ids (violations and warnings) to want, its
// messages and then extra lines to the golden file beside the case (NAME.golden).
func CaseVerdict(t *testing.T, file string, req policy.Request, d policy.Decision, want, extra []string, update bool) {
	t.Helper()
	var got []string
	for _, v := range append(d.Violations, d.Warnings...) {
		got = append(got, v.ID)
	}
	slices.Sort(got)
	msgs := policy.Messages(policy.ObjectName(req.Namespace, req.Name), append(d.Violations, d.Warnings...))
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("violations %v, want %v\n%s", got, want, strings.Join(msgs, "\n"))
	}
	GoldenLines(t, strings.TrimSuffix(file, ".yaml")+".golden", append(msgs, extra...), update)
}

func caseHeader(data []byte) (want []string, op string) {
	op = "CREATE"
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "# ")
		if !ok {
			break
		}
		if ids, ok := strings.CutPrefix(line, "want:"); ok {
			for _, id := range strings.Split(ids, ",") {
				if id = strings.TrimSpace(id); id != "" {
					want = append(want, id)
				}
			}
		}
		if o, ok := strings.CutPrefix(line, "operation:"); ok {
			op = strings.TrimSpace(o)
		}
	}
	slices.Sort(want)
	return want, op
}

// CaseDocuments are the YAML documents of data; a namespaced one naming none is in default.
func CaseDocuments(t testing.TB, data []byte) []CaseDoc {
	t.Helper()
	var out []CaseDoc
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m == nil {
			continue
		}
		raw, _ := json.Marshal(m)
		md, _ := m["metadata"].(map[string]any)
		ns, _ := md["namespace"].(string)
		name, _ := md["name"].(string)
		gvk := schema.FromAPIVersionAndKind(m["apiVersion"].(string), m["kind"].(string))
		if ns == "" && gvk.Kind != "GatewayClass" && gvk.Kind != "IngressClass" {
			ns = "default"
		}
		out = append(out, CaseDoc{gvk, ns, name, raw})
	}
	if len(out) == 0 {
		t.Fatal("no documents")
	}
	return out
}

// StoreCase puts a case's document into the index as check does.
func StoreCase(t testing.TB, r *policy.Reviewer, x *policy.Index, d CaseDoc) {
	t.Helper()
	if err := r.Store(x, d.GVK, d.Namespace, time.Time{}, d.Raw); err != nil {
		t.Fatal(err)
	}
}

// GoldenLines compares lines with the file's content, or rewrites the file when update is set.
func GoldenLines(t testing.TB, path string, lines []string, update bool) {
	t.Helper()
	got := strings.Join(lines, "\n") + "\n"
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("messages differ from %s:\n got: %s\nwant: %s", path, got, want)
	}
}

// Cases judges each case file matching glob with validation alone (Case, CaseVerdict): the
// targets whose objects privgate never mutates.
func Cases(t *testing.T, r *policy.Reviewer, glob string, update bool) {
	t.Helper()
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatal("no cases")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want, req := Case(t, r, file)
			d, err := r.Validate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			CaseVerdict(t, file, req, d, want, nil, update)
		})
	}
}

// StoredCase is an index holding every document of the case file at path (they are all in the
// cluster), as check and privgate's fixers read them.
func StoredCase(t *testing.T, r *policy.Reviewer, path string) *policy.Index {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	index := policy.NewIndex()
	for _, d := range CaseDocuments(t, data) {
		StoreCase(t, r, index, d)
	}
	return index
}
