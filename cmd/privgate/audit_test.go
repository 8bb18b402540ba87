package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// TestAuditListing: privgate audit lists every Ingress (public ones too: the kind is Listed) and
// the bindings and routes with something to say, counts the quiet rest, and prints each private
// host with its claims' states.
func TestAuditListing(t *testing.T) {
	rev := testutil.ReviewerEdited(t, "../../examples", strings.NewReplacer("\nistio:", "\nrbac: {groupsPrefix: \"oidc:\"}\nistio:"))
	manifests := []string{
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: blog, namespace: zone-a}\nspec: {ingressClassName: nginx, rules: [{host: blog.example.com}]}\n",
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: grafana, namespace: zone-a}\nspec: {ingressClassName: nginx, rules: [{host: grafana.private.example.com}]}\n",
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: grafana, namespace: zone-b}\nspec: {ingressClassName: nginx, rules: [{host: grafana.private.example.com}]}\n",
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: oauth2-proxy, namespace: oauth2-proxy}\nspec: {ingressClassName: nginx, rules: [{host: oauth2.private.example.com}]}\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: sre-viewers, namespace: zone-a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [{kind: Group, name: \"oidc:/SRE\", apiGroup: rbac.authorization.k8s.io}]\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: dev-viewers, namespace: zone-a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [{kind: Group, name: \"oidc:/developers\", apiGroup: rbac.authorization.k8s.io}]\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: \"system:masters\"}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: \"system:masters\", apiGroup: rbac.authorization.k8s.io}]\n",
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: blog, namespace: zone-a}\nspec: {hosts: [blog.example.com], gateways: [istio-system/public]}\n",
	}
	index := policy.NewIndex()
	var objs []stored
	kinds := map[string]policy.Kind{}
	for _, k := range rev.Reads() {
		kinds[k.GVK.Kind] = k
	}
	for _, m := range manifests {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(m), &obj.Object); err != nil {
			t.Fatal(err)
		}
		raw, _ := obj.MarshalJSON()
		if err := rev.Store(index, obj.GroupVersionKind(), "", time.Time{}, raw); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, stored{kinds[obj.GetKind()], &obj})
	}
	rev.Cluster = index
	results, others, zone := auditStored(context.Background(), rev, objs)
	var out bytes.Buffer
	if err := printResults(&out, "text", results, others); err != nil {
		t.Fatal(err)
	}
	printHosts(&out, zone)
	// Every line but the violations' (indented under their object): the objects listed in the
	// order stored, the count of the quiet rest, the zone.
	want := []string{
		"ADMITTED  zone-a/blog: no private host, untouched",
		"DENIED    zone-a/grafana",
		"DENIED    zone-b/grafana",
		"ADMITTED  oauth2-proxy/oauth2-proxy: exempt host (exemptHosts), untouched",
		"DENIED    zone-a/sre-viewers",
		"ADMITTED  zone-a/dev-viewers: as written, untouched",
		"ADMITTED  zone-a/blog: as written, untouched",
		"7 objects: 4 admitted (0 mutated), 3 denied; other objects not judged: 1",
		"",
		"Private hosts (2):",
		"  grafana.private.example.com              unprotected  served by zone-a/grafana, zone-b/grafana",
		"  oauth2.private.example.com               exempt       served by oauth2-proxy/oauth2-proxy",
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "          ") {
			got = append(got, line)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("privgate audit printed\n%s\nwant these lines (violations aside):\n%s", out.String(), strings.Join(want, "\n"))
	}
}
