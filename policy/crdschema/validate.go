package crdschema

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	kjson "sigs.k8s.io/json"
)

// version is one served version of one CRD. Its validator is built on first use: converting a
// schema costs far more than a Validate call, and most runs of privgate check meet only a few kinds.
type version struct {
	source    string // "httproutes.gateway.networking.k8s.io v1", for errors
	schema    *apiextensionsv1.JSONSchemaProps
	hasStatus bool

	once sync.Once
	v    *validator
	err  error
}

// validator holds what the API server builds per CRD version (see apiextensions-apiserver's
// customresource_handler.go), less the CEL rules.
type validator struct {
	structural *structuralschema.Structural
	openapi    *validate.SchemaValidator
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
	// The server converts the JSONSchemaProps itself (validation.ConvertJSONSchemaProps, whose
	// package pulls CEL in); the structural schema converts to the same thing, but for the type of
	// an int-or-string. Formats need no stripping: strfmt.Default knows exactly the ones the server
	// keeps, and the validator skips a format it does not know.
	openapi := s.ToKubeOpenAPI()
	typeIntOrString(openapi)
	return &validator{structural: s, openapi: validate.NewSchemaValidator(openapi, nil, "", strfmt.Default)}, nil
}

// typeIntOrString gives every x-kubernetes-int-or-string schema the type the API server gives it,
// so that a boolean or an object there is refused.
func typeIntOrString(s *spec.Schema) {
	if s == nil {
		return
	}
	if v, _ := s.Extensions.GetBool("x-kubernetes-int-or-string"); v {
		s.Type = spec.StringOrArray{"integer", "string"}
	}
	for k, p := range s.Properties {
		typeIntOrString(&p)
		s.Properties[k] = p
	}
	if s.Items != nil {
		typeIntOrString(s.Items.Schema)
	}
	if s.AdditionalProperties != nil {
		typeIntOrString(s.AdditionalProperties.Schema)
	}
	for _, of := range [][]spec.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range of {
			typeIntOrString(&of[i])
		}
	}
	typeIntOrString(s.Not)
}

// Validate checks one object (JSON) of gvk against its CRD's schema for that version, as the API
// server does on create with strict field validation (kubectl's default): every unknown field
// (pruning) and every schema violation (types, enums, required, patterns, min/max, list-set and
// list-map keys…), each a field.Error naming the path (spec.selector.action). known is false when no
// embedded CRD serves gvk (then errs is nil). The caller has read gvk from the object itself.
//
// Defaults are applied first, as on the server. CEL rules (x-kubernetes-validations) are not run:
// see the package doc.
//
// Of metadata only unknown and malformed fields are checked. Name syntax and the namespace are
// not, since files read offline often leave them to kubectl -n or kustomize.
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
	applyDefaults(u, s)

	unknown, err := metadataUnknown(u)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), field.OmitValueType{}, err.Error())}
	}
	unknown = append(unknown, pruning.PruneWithOptions(u, s, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	dropNulls(u, s)

	var errs field.ErrorList
	for _, p := range unknown {
		// The API server's words for it under server-side apply; strict decoding says "unknown field".
		errs = append(errs, field.Forbidden(parsePath(p), "field not declared in schema"))
	}
	if hasStatus {
		// With a status subresource, a create ignores status (customResourceStrategy.PrepareForCreate).
		delete(u, "status")
	}

	errs = append(errs, fieldErrors(val.openapi.Validate(u))...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, s, u)...)
	// The schema validator walks maps, so its order varies; a check's output must not.
	slices.SortFunc(errs, func(a, b *field.Error) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), strings.Compare(string(a.Type), string(b.Type)), strings.Compare(a.Detail, b.Detail))
	})
	return errs
}

// metadataUnknown decodes metadata strictly into an ObjectMeta, as the API server does
// (objectmeta.GetObjectMetaWithOptions; its package pulls in the server's feature gates), and
// returns the paths of the fields ObjectMeta has not. Pruning leaves metadata to it.
func metadataUnknown(u map[string]any) ([]string, error) {
	m, ok := u["metadata"]
	if !ok {
		return nil, nil
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	strict, err := kjson.UnmarshalStrict(data, &metav1.ObjectMeta{})
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range strict {
		if fe, ok := e.(kjson.FieldError); ok {
			paths = append(paths, "metadata."+fe.FieldPath())
		}
	}
	return paths, nil
}

// applyDefaults sets the schema's defaults where a field is missing or a null it may not be, as
// the API server's structural defaulting (defaulting.Default, whose package pulls CEL in).
func applyDefaults(x any, s *structuralschema.Structural) {
	if s == nil {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, p := range s.Properties {
			if v, found := x[k]; p.Default.Object != nil && (!found || v == nil && !p.Nullable) {
				x[k] = runtime.DeepCopyJSONValue(p.Default.Object)
			}
		}
		for k, v := range x {
			if p, found := s.Properties[k]; found {
				applyDefaults(v, &p)
			} else if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
				ap := s.AdditionalProperties.Structural
				if v == nil && !ap.Nullable && ap.Default.Object != nil {
					x[k] = runtime.DeepCopyJSONValue(ap.Default.Object)
				}
				applyDefaults(x[k], ap)
			}
		}
	case []any:
		for i := range x {
			if x[i] == nil && s.Items != nil && !s.Items.Nullable && s.Items.Default.Object != nil {
				x[i] = runtime.DeepCopyJSONValue(s.Items.Default.Object)
			}
			applyDefaults(x[i], s.Items)
		}
	}
}

// dropNulls removes the nulls of fields that may not be null and have no default, as the API
// server does before validating (defaulting.PruneNonNullableNullsWithoutDefaults): `labels:` with
// nothing after it is no error.
func dropNulls(x any, s *structuralschema.Structural) {
	switch x := x.(type) {
	case map[string]any:
		for k, v := range x {
			var p *structuralschema.Structural
			if s != nil {
				if prop, ok := s.Properties[k]; ok {
					p = &prop
				} else if s.AdditionalProperties != nil {
					p = s.AdditionalProperties.Structural
				}
			}
			if v == nil && p != nil && !p.Nullable && p.Default.Object == nil {
				delete(x, k)
			} else {
				dropNulls(v, p)
			}
		}
	case []any:
		var items *structuralschema.Structural
		if s != nil {
			items = s.Items
		}
		for _, v := range x {
			dropNulls(v, items)
		}
	}
}

// fieldErrors turns the schema validator's errors into field errors with the API server's types
// and words (validation.kubeOpenAPIResultToFieldErrors).
func fieldErrors(result *validate.Result) field.ErrorList {
	if result.IsValid() {
		return nil
	}
	var errs field.ErrorList
	for _, err := range result.Errors {
		v, ok := err.(*openapierrors.Validation)
		if !ok {
			errs = append(errs, field.Invalid(nil, "", err.Error()))
			continue
		}
		var path *field.Path
		if v.Name != "" && v.Name != "." {
			path = field.NewPath(strings.TrimPrefix(v.Name, "."))
		}
		var value any = ""
		if v.Value != nil {
			value = v.Value
		}
		switch v.Code() {
		case openapierrors.RequiredFailCode:
			errs = append(errs, field.Required(path, ""))
		case openapierrors.EnumFailCode:
			var values []string
			for _, allowed := range v.Values {
				if s, ok := allowed.(string); ok {
					values = append(values, s)
				} else {
					j, _ := json.Marshal(allowed)
					values = append(values, string(j))
				}
			}
			errs = append(errs, field.NotSupported(path, v.Value, values))
		case openapierrors.TooLongFailCode:
			errs = append(errs, field.TooLong(path, "", int(asInt64(v.Valid))))
		case openapierrors.MaxItemsFailCode, openapierrors.TooManyPropertiesCode:
			errs = append(errs, field.TooMany(path, int(asInt64(v.Value)), int(asInt64(v.Valid))))
		case openapierrors.InvalidTypeCode:
			errs = append(errs, field.TypeInvalid(path, value, v.Error()))
		default:
			errs = append(errs, field.Invalid(path, value, v.Error()))
		}
	}
	return errs
}

// asInt64 is a limit or a count of an error, -1 when the validator gave none.
func asInt64(x any) int64 {
	if i, ok := x.(int64); ok {
		return i
	}
	return -1
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
