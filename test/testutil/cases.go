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

// Cases judges the last object of each file matching glob against the objects before it, as
// the webhook does against what is stored (an UPDATE's earlier version is the document of the
// same name before it; a DELETE removes the last document). The file's first lines say what is
// expected: "# want: id, id" (none: admitted) and, optionally, "# operation: DELETE". The
// messages are compared with NAME.golden (update rewrites them).
func Cases(t *testing.T, r *policy.Reviewer, glob string, update bool) {
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatal("no cases")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want, op := header(data)
			docs := Documents(t, data)
			// As the webhook sees it: what is stored, the judged object not yet (unless deleted).
			index := policy.NewIndex()
			stored := docs[:len(docs)-1]
			if op == "DELETE" {
				stored = docs
			}
			for _, d := range stored {
				StoreDoc(t, r, index, d)
			}
			r.Cluster = index
			last := docs[len(docs)-1]
			req := policy.Request{Kind: last.GVK, Operation: op, Namespace: last.Namespace, Name: last.Name, Object: last.Raw}
			if op == "DELETE" {
				req.Object, req.OldObject = nil, last.Raw
			}
			d, err := r.Validate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range append(d.Violations, d.Warnings...) {
				got = append(got, v.ID)
			}
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("violations %v, want %v\n%s", got, want, strings.Join(policy.Messages(last.Name, append(d.Violations, d.Warnings...)), "\n"))
			}
			Golden(t, strings.TrimSuffix(file, ".yaml")+".golden", policy.Messages(policy.ObjectName(last.Namespace, last.Name), append(d.Violations, d.Warnings...)), update)
		})
	}
}

// Doc is one document of a case, with what the API server would know of it.
type Doc struct {
	GVK             schema.GroupVersionKind
	Namespace, Name string
	Raw             []byte
}

func header(data []byte) (want []string, op string) {
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

// Documents are the YAML documents of a case, in the default namespace unless they say
// otherwise (cluster-scoped GatewayClasses aside).
func Documents(t *testing.T, data []byte) []Doc {
	t.Helper()
	var out []Doc
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
		if ns == "" && gvk.Kind != "GatewayClass" {
			ns = "default"
		}
		out = append(out, Doc{gvk, ns, name, raw})
	}
	if len(out) == 0 {
		t.Fatal("no documents")
	}
	return out
}

// StoreDoc puts a related object into the index as check does.
func StoreDoc(t *testing.T, r *policy.Reviewer, x *policy.Index, d Doc) {
	t.Helper()
	if err := r.Store(x, d.GVK, d.Namespace, time.Time{}, d.Raw); err != nil {
		t.Fatal(err)
	}
}

// Golden compares lines with the file at path (update rewrites it).
func Golden(t *testing.T, path string, lines []string, update bool) {
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

// StoredCase is an index holding every document of the case file at path (they are all in the
// cluster), as check and privgate's fixers read them.
func StoredCase(t *testing.T, r *policy.Reviewer, path string) *policy.Index {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	index := policy.NewIndex()
	for _, d := range Documents(t, data) {
		StoreDoc(t, r, index, d)
	}
	return index
}
