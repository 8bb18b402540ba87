package crdschema

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// version is one served version of one CRD. Its validator is built on first use: converting and
// compiling a schema (and its CEL rules) costs far more than a Validate call, and most runs of
// privgate check meet only a few kinds.
type version struct {
	source    string // "httproutes.gateway.networking.k8s.io v1", for errors
	schema    *apiextensionsv1.JSONSchemaProps
	hasStatus bool

	once sync.Once
	v    *validator
	err  error
}

// validator holds what the API server builds per CRD version (see apiextensions-apiserver's
// customresource_handler.go and registry/customresource/strategy.go).
type validator struct {
	structural *structuralschema.Structural
	schema     validation.SchemaValidator
	cel        *cel.Validator // nil when the version has no x-kubernetes-validations
}

func (v *version) validator() (*validator, error) {
	v.once.Do(func() { v.v, v.err = build(v.schema) })
	if v.err != nil {
		return nil, fmt.Errorf("schema of %s: %w", v.source, v.err)
	}
	return v.v, nil
}

func build(v1 *apiextensionsv1.JSONSchemaProps) (*validator, error) {
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1, internal, nil); err != nil {
		return nil, err
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		return nil, err
	}
	sv, _, err := validation.NewSchemaValidator(internal)
	if err != nil {
		return nil, err
	}
	return &validator{structural: s, schema: sv, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
}

// Validate checks one object (JSON) of gvk against its CRD's schema for that version, as the API
// server does on create with strict field validation (kubectl's default): every unknown field
// (pruning) and every schema violation (types, enums, required, patterns, min/max, list-map keys,
// CEL rules…), each a field.Error naming the path (spec.selector.action). known is false when no
// embedded CRD serves gvk (then errs is nil). The caller has read gvk from the object itself.
//
// Defaults are applied first, as on the server. CEL rules (x-kubernetes-validations) run only when
// no type, enum, required or size error was found, as on the server.
//
// Of metadata only what the CRD machinery checks is checked: unknown and malformed fields, and the
// schema's own constraints on the name. Name syntax and the namespace are not, since files read
// offline often leave them to kubectl -n or kustomize.
func Validate(gvk schema.GroupVersionKind, obj []byte) (errs field.ErrorList, known bool) {
	v, ok := load().versions[gvk]
	if !ok {
		return nil, false
	}
	val, err := v.validator()
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}, true
	}
	var u map[string]any
	// utiljson gives int64 and float64 as the API server's decoder does; the schema's integer
	// checks depend on it.
	if err := utiljson.Unmarshal(obj, &u); err != nil || u == nil {
		return field.ErrorList{field.TypeInvalid(nil, field.OmitValueType{}, "not a JSON object")}, true
	}
	return val.validate(u, v.hasStatus), true
}

// validate follows the API server's order for a create: decode (default, then prune and record
// unknown fields), drop status when it is a subresource, then validate.
func (val *validator) validate(u map[string]any, hasStatus bool) field.ErrorList {
	s := val.structural
	structuraldefaulting.Default(u, s)

	var unknown []string
	_, _, metaUnknown, err := objectmeta.GetObjectMetaWithOptions(u, objectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), field.OmitValueType{}, err.Error())}
	}
	unknown = append(unknown, metaUnknown...)
	unknown = append(unknown, pruning.PruneWithOptions(u, s, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, s)
	// Metadata of embedded resources (x-kubernetes-embedded-resource), which pruning leaves alone.
	coerceErr, embeddedUnknown := objectmeta.CoerceWithOptions(nil, u, s, false, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	unknown = append(unknown, embeddedUnknown...)

	var errs field.ErrorList
	for _, p := range unknown {
		// The API server's words for it under server-side apply; strict decoding says "unknown field".
		errs = append(errs, field.Forbidden(parsePath(p), "field not declared in schema"))
	}
	if coerceErr != nil {
		errs = append(errs, coerceErr)
	}
	if hasStatus {
		// With a status subresource, a create ignores status (customResourceStrategy.PrepareForCreate).
		delete(u, "status")
	}

	errs = append(errs, validation.ValidateCustomResource(nil, u, val.schema)...)
	errs = append(errs, objectmeta.Validate(context.Background(), nil, u, s, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, s, u)...)
	// As the API server: CEL rules assume a well-typed object, so they run only on one. (It adds a
	// path-less "some validation rules were not checked"; a second run after the fixes finds them.)
	if val.cel != nil && !blocking(errs) {
		celErrs, _ := val.cel.Validate(context.Background(), nil, s, u, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	// The schema validator walks maps, so its order varies; a check's output must not.
	slices.SortFunc(errs, func(a, b *field.Error) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), strings.Compare(string(a.Type), string(b.Type)), strings.Compare(a.Detail, b.Detail))
	})
	return errs
}

// blocking is the API server's hasBlockingErr: errors after which CEL rules are not evaluated.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// parsePath turns pruning's "spec.rules[0].to" back into a field.Path. A key that itself holds a
// dot cannot be told apart, but it prints the same.
func parsePath(p string) *field.Path {
	var path *field.Path
	for _, key := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(key, "[")
		if path == nil {
			path = field.NewPath(name)
		} else {
			path = path.Child(name)
		}
		for rest != "" {
			var idx string
			idx, rest, _ = strings.Cut(rest, "]")
			rest = strings.TrimPrefix(rest, "[")
			i, err := strconv.Atoi(idx)
			if err != nil {
				return field.NewPath(p)
			}
			path = path.Index(i)
		}
	}
	return path
}
