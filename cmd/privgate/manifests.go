package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// object is one Kubernetes object read from a manifest, with where it was found.
type object struct {
	File string
	Line int
	Kind string
	// APIVersion, Namespace and Name as the manifest says.
	APIVersion string
	Namespace  string
	Name       string
	Raw        []byte // JSON
	// Err says why this document (or file) could not be read; the others are still judged.
	Err error
}

func (o object) where() string { return fmt.Sprintf("%s:%d", o.File, o.Line) }

// readManifests reads YAML and JSON manifests from files and folders (recursively: *.yaml,
// *.yml, *.json; "-" is standard input), multi-document YAML and kind: List included. A file or
// document that cannot be read comes back as an object with Err set, naming the file and line,
// so that one bad document never hides the verdicts of the others. config, privgate's own
// config file, is no manifest: a folder holding it is read without it.
func readManifests(paths []string, stdin io.Reader, config string) []object {
	var out []object
	unreadable := func(file string, err error) { out = append(out, object{File: file, Err: err}) }
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				unreadable("<stdin>", err)
				continue
			}
			out = append(out, parseManifest("<stdin>", data)...)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			unreadable(p, err)
			continue
		}
		var files []string
		if info.IsDir() {
			err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				switch strings.ToLower(filepath.Ext(path)) {
				case ".yaml", ".yml", ".json":
					if !d.IsDir() && !sameFile(path, config) {
						files = append(files, path)
					}
				}
				return nil
			})
			if err != nil {
				unreadable(p, err)
			}
		} else {
			files = []string{p}
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				unreadable(f, err)
				continue
			}
			out = append(out, parseManifest(f, data)...)
		}
	}
	return out
}

// sameFile reports whether two paths name one file.
func sameFile(a, b string) bool {
	if b == "" {
		return false
	}
	ai, err := os.Stat(a)
	if err != nil {
		return false
	}
	bi, err := os.Stat(b)
	return err == nil && os.SameFile(ai, bi)
}

var (
	docSeparator = regexp.MustCompile(`^---(\s.*)?$`)
	yamlLine     = regexp.MustCompile(`line (\d+)`)
)

// parseManifest splits a file into YAML documents and decodes each; a document that cannot be
// decoded is an object with Err set.
func parseManifest(file string, data []byte) []object {
	var out []object
	var doc bytes.Buffer
	start, line := 1, 0
	flush := func() {
		objs, err := parseDocument(file, start, doc.Bytes())
		if err != nil {
			objs = []object{{File: file, Line: start, Err: err}}
		}
		out = append(out, objs...)
		doc.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line++
		if docSeparator.MatchString(sc.Text()) {
			flush()
			start = line + 1
			continue
		}
		doc.Write(sc.Bytes())
		doc.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return append(out, object{File: file, Line: line, Err: err})
	}
	flush()
	return out
}

func parseDocument(file string, start int, doc []byte) ([]object, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	raw, err := yaml.YAMLToJSON(doc)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		msg = strings.TrimPrefix(msg, "yaml: ")
		at := start
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			at = start + n - 1
			msg = strings.TrimSpace(yamlLine.ReplaceAllString(msg, ""))
			msg = strings.TrimPrefix(msg, ": ")
		}
		return nil, fmt.Errorf("%s:%d: not valid YAML: %s", file, at, msg)
	}
	// Point at the object itself, not at the comments above it.
	line := start
	for l := range strings.SplitSeq(string(doc), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			break
		}
		line++
	}
	return decodeObject(file, line, raw)
}

func decodeObject(file string, line int, raw []byte) ([]object, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("%s:%d: not a Kubernetes object: %v", file, line, err)
	}
	// The API server (and kubectl apply) refuses a document without apiVersion or kind: so does
	// check, rather than count it among kinds it does not judge (a kind: Ingress without
	// apiVersion would otherwise pass unjudged).
	if head.APIVersion == "" || head.Kind == "" {
		name := head.Metadata.Name
		if head.Metadata.Namespace != "" {
			name = head.Metadata.Namespace + "/" + name
		}
		what := strings.TrimSpace(head.Kind + " " + name)
		switch {
		case what == "":
			what = "the document"
		case head.Kind == "" && head.APIVersion != "":
			what += " (apiVersion " + head.APIVersion + ")"
		}
		missing := "no apiVersion"
		switch {
		case head.Kind == "" && head.APIVersion == "":
			missing = "no apiVersion and no kind"
		case head.Kind == "":
			missing = "no kind"
		}
		return nil, fmt.Errorf("%s:%d: %s has %s, which the API server refuses: write both (a file that is no manifest does not belong under -f)", file, line, what, missing)
	}
	if strings.HasSuffix(head.Kind, "List") && head.Items != nil {
		var out []object
		for _, item := range head.Items {
			objs, err := decodeObject(file, line, item)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	return []object{{
		File: file, Line: line, Kind: head.Kind, APIVersion: head.APIVersion,
		Namespace: head.Metadata.Namespace, Name: head.Metadata.Name, Raw: raw,
	}}, nil
}
