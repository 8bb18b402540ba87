package crdschema

import (
	"embed"
	"fmt"
	"io/fs"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// The files are copied by hack/crds.sh from the modules in go.mod; never edit them here.
//
//go:embed crds/*.yaml
var files embed.FS

// catalog is every embedded CRD and, per served version, the lazily built validator. Parsing a
// megabyte of YAML takes tens of milliseconds, so it is done once and only when first needed.
type catalog struct {
	crds     []*apiextensionsv1.CustomResourceDefinition
	versions map[schema.GroupVersionKind]*version
}

var load = sync.OnceValue(func() *catalog {
	c, err := parse(files)
	if err != nil {
		// The files are embedded and TestCRDs parses them all: this cannot happen in a built binary.
		panic(err)
	}
	return c
})

func parse(fsys fs.FS) (*catalog, error) {
	names, err := fs.Glob(fsys, "crds/*.yaml")
	if err != nil {
		return nil, err
	}
	c := &catalog{versions: map[schema.GroupVersionKind]*version{}}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		c.crds = append(c.crds, crd)
		for i := range crd.Spec.Versions {
			v := &crd.Spec.Versions[i]
			if !v.Served {
				continue
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("%s: version %s has no schema", name, v.Name)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			c.versions[gvk] = &version{
				source:    fmt.Sprintf("%s %s", crd.Name, v.Name),
				schema:    v.Schema.OpenAPIV3Schema,
				hasStatus: v.Subresources != nil && v.Subresources.Status != nil,
			}
		}
	}
	return c, nil
}

// CRDs are the embedded CustomResourceDefinitions (for the end-to-end tests to install into a real
// API server, and for documentation). Each call returns fresh copies, which the caller may change.
func CRDs() []*apiextensionsv1.CustomResourceDefinition {
	c := load()
	out := make([]*apiextensionsv1.CustomResourceDefinition, len(c.crds))
	for i, crd := range c.crds {
		out[i] = crd.DeepCopy()
	}
	return out
}
