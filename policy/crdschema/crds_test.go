package crdschema

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
)

// TestCRDs: the kinds privgate judges are all there, each version with a schema that builds.
func TestCRDs(t *testing.T) {
	want := map[string][]string{
		"authorizationpolicies.security.istio.io":   {"v1", "v1beta1"},
		"virtualservices.networking.istio.io":       {"v1", "v1alpha3", "v1beta1"},
		"gateways.networking.istio.io":              {"v1", "v1alpha3", "v1beta1"},
		"gatewayclasses.gateway.networking.k8s.io":  {"v1", "v1beta1"},
		"gateways.gateway.networking.k8s.io":        {"v1", "v1beta1"},
		"httproutes.gateway.networking.k8s.io":      {"v1", "v1beta1"},
		"grpcroutes.gateway.networking.k8s.io":      {"v1"},
		"referencegrants.gateway.networking.k8s.io": {"v1", "v1beta1"},
		"securitypolicies.gateway.envoyproxy.io":    {"v1alpha1"},
		"ingressroutes.traefik.io":                  {"v1alpha1"},
		"ingressroutetcps.traefik.io":               {"v1alpha1"},
		"middlewares.traefik.io":                    {"v1alpha1"},
	}
	got := map[string][]string{}
	for _, crd := range CRDs() {
		for _, v := range crd.Spec.Versions {
			if v.Served {
				got[crd.Name] = append(got[crd.Name], v.Name)
			}
		}
		slices.Sort(got[crd.Name])
	}
	if len(got) != len(want) {
		t.Errorf("embedded CRDs %v, want %v", got, want)
	}
	for name, versions := range want {
		if !slices.Equal(got[name], versions) {
			t.Errorf("%s serves %v, want %v", name, got[name], versions)
		}
	}
	for gvk, v := range load().versions {
		val, err := v.validator()
		if err != nil {
			t.Errorf("%s: %v", gvk, err)
			continue
		}
		// Validate leaves the apiVersion, kind and metadata of embedded resources unchecked (the
		// API server's objectmeta package would bring its feature gates along); none has any.
		if p := embeddedResource(val.structural, ""); p != "" {
			t.Errorf("%s: %s is an x-kubernetes-embedded-resource, whose metadata Validate does not check", gvk, p)
		}
	}
	// CRDs hands out copies: a caller changing one must not change what Validate uses.
	CRDs()[0].Spec.Versions[0].Schema = nil
	if CRDs()[0].Spec.Versions[0].Schema == nil {
		t.Error("CRDs returned the shared CRD, not a copy")
	}
}

// TestEmbeddedCRDsMatchModules: the embedded files are byte for byte the ones of the istio.io/api
// and sigs.k8s.io/gateway-api versions in go.mod, whose Go types privgate decodes with, and of
// github.com/envoyproxy/gateway at the version hack/crds.sh pins. hack/crds.sh brings them back
// in line.
func TestEmbeddedCRDsMatchModules(t *testing.T) {
	dirs := moduleDirs(t, "istio.io/api", "sigs.k8s.io/gateway-api")
	envoy := pinnedModuleDir(t, "github.com/envoyproxy/gateway", "ENVOY_GATEWAY_VERSION")
	istio, err := os.ReadFile(path.Join(dirs["istio.io/api"], "kubernetes/customresourcedefinitions.gen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(files, "crds/*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no embedded CRDs (%v)", err)
	}
	for _, name := range names {
		embedded, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		base := path.Base(name)
		if strings.HasPrefix(base, "gateway.networking.k8s.io_") {
			upstream, err := os.ReadFile(path.Join(dirs["sigs.k8s.io/gateway-api"], "config/crd/standard", base))
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if !bytes.Equal(embedded, upstream) {
				t.Errorf("%s differs from sigs.k8s.io/gateway-api's: run hack/crds.sh", name)
			}
			continue
		}
		if strings.HasPrefix(base, "gateway.envoyproxy.io_") {
			upstream, err := os.ReadFile(path.Join(envoy, "charts/gateway-helm/charts/crds/crds/generated", base))
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if !bytes.Equal(embedded, upstream) {
				t.Errorf("%s differs from github.com/envoyproxy/gateway's: run hack/crds.sh", name)
			}
			continue
		}
		if strings.HasPrefix(base, "traefik.io_") {
			if !isDocument(traefikCRDs(t), embedded) {
				t.Errorf("%s is not one whole document of %s@%s's CRD file: run hack/crds.sh", name, traefikModule, traefikVersion)
			}
			continue
		}
		if !isDocument(istio, embedded) {
			t.Errorf("%s is not one whole document of istio.io/api's customresourcedefinitions.gen.yaml: run hack/crds.sh", name)
		}
	}
}

// Traefik's CRDs come from a version pinned in hack/crds.sh, not from go.mod: its Go module does
// not import cleanly.
const (
	traefikModule  = "github.com/traefik/traefik/v3"
	traefikVersion = "v3.6.12"
)

// traefikCRDs is Traefik's CRD file at the pinned version (go mod download fetches it once).
func traefikCRDs(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", traefikModule+"@"+traefikVersion)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go mod download %s@%s: %v (offline?)", traefikModule, traefikVersion, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path.Join(m.Dir, "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// isDocument tells whether doc is one whole document of the YAML stream, as hack/crdsplit cuts it.
func isDocument(stream, doc []byte) bool {
	for from := 0; ; {
		i := bytes.Index(stream[from:], doc)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(doc)
		starts := i == 0 || bytes.HasSuffix(stream[:i], []byte("\n---\n")) || i == 4 && bytes.HasPrefix(stream, []byte("---\n"))
		ends := end == len(stream) || bytes.HasPrefix(stream[end:], []byte("---\n"))
		if starts && ends {
			return true
		}
		from = i + 1
	}
}

// moduleDirs asks the go command where the module cache holds each module at go.mod's version.
func moduleDirs(t *testing.T, modules ...string) map[string]string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("the go command is not on PATH, so the module's files cannot be found to compare with")
	}
	cmd := exec.Command(goCmd, append([]string{"list", "-m", "-json"}, modules...)...)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list -m %s: %v\n%s", strings.Join(modules, " "), err, exit.Stderr)
		}
		t.Fatalf("go list -m: %v", err)
	}
	dirs := map[string]string{}
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var m struct{ Path, Version, Dir string }
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Dir == "" {
			t.Fatalf("%s@%s is not in the module cache: go mod download %s", m.Path, m.Version, m.Path)
		}
		dirs[m.Path] = m.Dir
	}
	return dirs
}

// pinnedModuleDir is where the module cache holds module at the version hack/crds.sh pins on the
// line VAR=version (a module privgate copies files from but does not build with).
func pinnedModuleDir(t *testing.T, module, variable string) string {
	t.Helper()
	script, err := os.ReadFile("../../hack/crds.sh")
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(string(script), "\n") {
		if v, ok := strings.CutPrefix(line, variable+"="); ok {
			version = strings.TrimSpace(v)
		}
	}
	if version == "" {
		t.Fatalf("hack/crds.sh pins no %s", variable)
	}
	goCmd, err := exec.LookPath("go")
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("the go command is not on PATH, so the module's files cannot be found to compare with")
	}
	cmd := exec.Command(goCmd, "mod", "download", "-json", module+"@"+version)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); err != nil || jerr != nil || m.Dir == "" {
		t.Fatalf("go mod download %s@%s: %v %s", module, version, err, m.Error)
	}
	return m.Dir
}

// embeddedResource is the path of the first x-kubernetes-embedded-resource in s, or "".
func embeddedResource(s *structuralschema.Structural, path string) string {
	if s == nil {
		return ""
	}
	if s.XEmbeddedResource {
		return cmp.Or(path, ".")
	}
	for k, p := range s.Properties {
		if found := embeddedResource(&p, path+"."+k); found != "" {
			return found
		}
	}
	if found := embeddedResource(s.Items, path+"[]"); found != "" {
		return found
	}
	if s.AdditionalProperties != nil {
		return embeddedResource(s.AdditionalProperties.Structural, path+".*")
	}
	return ""
}
