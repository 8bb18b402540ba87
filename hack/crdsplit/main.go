// Command crdsplit copies chosen CustomResourceDefinitions out of a multi-document YAML file, each
// into DIR/<group>_<plural>.yaml (controller-gen's naming), byte for byte: a document is the lines
// between two "---" lines, so the copy can be compared with its source and never drift.
//
//	go run ./hack/crdsplit SRC DIR NAME...   (NAME as in metadata.name, e.g. gateways.networking.istio.io)
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: crdsplit SRC DIR NAME...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3:]); err != nil {
		fmt.Fprintln(os.Stderr, "crdsplit:", err)
		os.Exit(1)
	}
}

func run(src, dir string, names []string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, doc := range documents(data) {
		var crd struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &crd); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		name := crd.Metadata.Name
		if !want[name] {
			continue
		}
		delete(want, name)
		// authorizationpolicies.security.istio.io -> security.istio.io_authorizationpolicies.yaml
		plural, group, _ := strings.Cut(name, ".")
		to := filepath.Join(dir, group+"_"+plural+".yaml")
		// The module cache is read-only and so may be an older copy: replace, never write through.
		_ = os.Remove(to)
		if err := os.WriteFile(to, doc, 0o644); err != nil {
			return err
		}
	}
	for n := range want {
		return fmt.Errorf("%s has no CustomResourceDefinition %s", src, n)
	}
	return nil
}

// documents splits a YAML stream at its "---" lines, keeping every other byte as it is.
func documents(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	if bytes.HasPrefix(data, []byte("---\n")) {
		start = 4
	}
	for start < len(data) {
		end := len(data)
		next := len(data)
		if i := bytes.Index(data[start:], []byte("\n---\n")); i >= 0 {
			end, next = start+i+1, start+i+5
		}
		if doc := data[start:end]; len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
		start = next
	}
	return docs
}
