package crdschema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// readObject reads a testdata YAML object as the JSON Validate takes, with its gvk.
func readObject(t testing.TB, name string) (schema.GroupVersionKind, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(obj, &tm); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return gv.WithKind(tm.Kind), obj
}

func TestValidate(t *testing.T) {
	const undeclared = "Forbidden: field not declared in schema"
	tests := map[string]struct {
		file string
		want []string // err.Error() of each, in Validate's order (by path)
	}{
		"AuthorizationPolicy v1 CUSTOM with oauth2-proxy": {file: "authorizationpolicy.yaml"},
		"AuthorizationPolicy v1beta1":                     {file: "authorizationpolicy-v1beta1.yaml"},
		"action and provider under selector": {
			file: "authorizationpolicy-under-selector.yaml",
			want: []string{
				"spec.selector.action: " + undeclared,
				"spec.selector.provider: " + undeclared,
			},
		},
		"rules an object, not a list": {
			file: "authorizationpolicy-rules-object.yaml",
			want: []string{`spec.rules: Invalid value: "object": spec.rules in body must be of type array: "object"`},
		},
		"action not in the enum": {
			file: "authorizationpolicy-action-enum.yaml",
			want: []string{`spec.action: Unsupported value: "ALLOWED": supported values: "ALLOW", "DENY", "AUDIT", "CUSTOM"`},
		},
		// CEL rules are not run here (see doc.go): the API server refuses this object at admission
		// ("only one of targetRefs or selector can be set", "wildcard not allowed in label value
		// match"), and the Rego rule authz-selector-and-targetrefs catches the first.
		"CEL rules not checked":                            {file: "authorizationpolicy-cel.yaml"},
		"nulls of fields that may not be null are dropped": {file: "authorizationpolicy-nulls.yaml"},
		"unknown metadata field": {
			file: "authorizationpolicy-metadata-typo.yaml",
			want: []string{"metadata.label: " + undeclared},
		},
		"labels a list": {
			file: "httproute-labels-list.yaml",
			want: []string{"metadata: Invalid value: json: cannot unmarshal array into Go struct field ObjectMeta.labels of type map[string]string"},
		},
		"VirtualService v1alpha3": {file: "virtualservice-v1alpha3.yaml"},
		"Traefik IngressRoute":    {file: "ingressroute.yaml"},
		"Traefik forwardAuth address misspelt": {
			file: "middleware-forwardauth-typo.yaml",
			want: []string{"spec.forwardAuth.adress: " + undeclared},
		},
		"VirtualService destination outside route": {
			file: "virtualservice-destination-outside-route.yaml",
			want: []string{"spec.http[0].destination: " + undeclared},
		},
		"Istio Gateway v1beta1":    {file: "gateway-istio-v1beta1.yaml"},
		"Gateway API GatewayClass": {file: "gatewayclass.yaml"},
		"Gateway API Gateway":      {file: "gateway-api-gateway.yaml"},
		"Gateway listeners with one name twice": {
			file: "gateway-api-gateway-duplicate-listener.yaml",
			want: []string{`spec.listeners[1]: Duplicate value: {"name":"https"}`},
		},
		"Gateway API HTTPRoute": {file: "httproute.yaml"},
		"Gateway API GRPCRoute": {file: "grpcroute.yaml"},
		"HTTPRoute rule with timeout": {
			file: "httproute-timeout.yaml",
			want: []string{"spec.rules[0].timeout: " + undeclared},
		},
		"HTTPRoute hostnames not RFC 1123": {
			file: "httproute-hostname.yaml",
			want: []string{
				`spec.hostnames[0]: Invalid value: "app_1.example.com": spec.hostnames[0] in body should match '^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'`,
				`spec.hostnames[1]: Invalid value: "app.example.com:443": spec.hostnames[1] in body should match '^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // Validate shares its validators between goroutines, as a webhook would.
			gvk, obj := readObject(t, tc.file)
			errs, known := Validate(gvk, obj)
			if !known {
				t.Fatalf("%s: not known", gvk)
			}
			var got []string
			for _, err := range errs {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s:\ngot  %q\nwant %q", tc.file, got, tc.want)
			}
		})
	}
}

func TestValidateKnown(t *testing.T) {
	obj := []byte(`{"spec":{}}`)
	tests := map[string]struct {
		gvk   schema.GroupVersionKind
		known bool
	}{
		"AuthorizationPolicy v1":        {schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}, true},
		"VirtualService v1beta1":        {schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1beta1", Kind: "VirtualService"}, true},
		"Gateway v1alpha3":              {schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1alpha3", Kind: "Gateway"}, true},
		"HTTPRoute v1":                  {schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}, true},
		"DestinationRule not embedded":  {schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}, false},
		"HTTPRoute v1alpha2 not served": {schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1alpha2", Kind: "HTTPRoute"}, false},
		"kind is case-sensitive":        {schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "httproute"}, false},
		"Ingress":                       {schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs, known := Validate(tc.gvk, obj)
			if known != tc.known {
				t.Errorf("known = %v, want %v", known, tc.known)
			}
			if !known && errs != nil {
				t.Errorf("errs = %v for an unknown gvk, want nil", errs)
			}
		})
	}
}

func TestValidateNotAnObject(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}
	for name, obj := range map[string]string{"list": `[]`, "null": `null`, "not JSON": `spec: {}`} {
		t.Run(name, func(t *testing.T) {
			errs, known := Validate(gvk, []byte(obj))
			if !known || len(errs) != 1 || errs[0].Error() != "<nil>: Invalid value: not a JSON object" {
				t.Errorf("Validate(%s) = %v, %v", obj, errs, known)
			}
		})
	}
}

func BenchmarkValidate(b *testing.B) {
	for _, file := range []string{"authorizationpolicy.yaml", "authorizationpolicy-under-selector.yaml", "httproute.yaml"} {
		b.Run(file, func(b *testing.B) {
			gvk, obj := readObject(b, file)
			Validate(gvk, obj) // build the validator outside the timing
			b.ReportAllocs()
			for b.Loop() {
				Validate(gvk, obj)
			}
		})
	}
}

// TestIntOrString: an x-kubernetes-int-or-string field takes an integer or a string, as on the API
// server, which types it so (the embedded CRDs have such fields only in status, which a create
// ignores, so a hand-written schema shows it).
func TestIntOrString(t *testing.T) {
	schema := &apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"port": {XIntOrString: true, AnyOf: []apiextensionsv1.JSONSchemaProps{{Type: "integer"}, {Type: "string"}}},
		},
	}
	val, err := build(schema)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		port any
		want []string
	}{
		"integer": {port: int64(8080)},
		"string":  {port: "http"},
		// The anyOf branches speak too, as on the API server.
		"boolean": {port: true, want: []string{
			`<nil>: Invalid value: "": "port" must validate at least one schema (anyOf)`,
			`port: Invalid value: "boolean": port in body must be of type integer,string: "boolean"`,
			`port: Invalid value: "boolean": port in body must be of type integer: "boolean"`,
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, err := range val.validate(map[string]any{"port": tc.port}, false) {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestDefaults: Validate sees an object with the schema's defaults, as the API server validates
// one: a rule without matches matches every path.
func TestDefaults(t *testing.T) {
	gvk, obj := readObject(t, "httproute.yaml")
	v := load().versions[gvk]
	val, err := v.validator()
	if err != nil {
		t.Fatal(err)
	}
	var u map[string]any
	if err := json.Unmarshal(obj, &u); err != nil {
		t.Fatal(err)
	}
	rule := u["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)
	delete(rule, "matches")
	applyDefaults(u, val.structural)
	got, _ := json.Marshal(rule["matches"])
	if want := `[{"path":{"type":"PathPrefix","value":"/"}}]`; string(got) != want {
		t.Errorf("defaulted matches %s, want %s", got, want)
	}
}
