package router

import (
	"strings"
	"unicode"
)

// Traefik's provider names: a qualified middleware name is <id>@<provider>.
const (
	ProviderCRD     = "kubernetescrd" // the kubernetesCRD provider: Middleware objects
	ProviderIngress = "kubernetes"    // the kubernetesIngress provider: defines no middlewares
)

// Normalize is Traefik's provider.Normalize (pkg/provider/configuration.go): every run of
// characters other than letters and digits becomes one "-", leading and trailing ones dropped.
// Middleware "a.b" in namespace "x" and Middleware "b" in namespace "x-a" are both "x-a-b".
func Normalize(name string) string {
	return strings.Join(strings.FieldsFunc(name, func(c rune) bool {
		return !unicode.IsLetter(c) && !unicode.IsNumber(c)
	}), "-")
}

// CRDID is the ID the kubernetesCRD provider gives Middleware namespace/name:
// Normalize(makeID(namespace, name)) (pkg/provider/kubernetes/crd/kubernetes.go).
func CRDID(namespace, name string) string { return Normalize(namespace + "-" + name) }

// Qualify is Traefik's provider.GetQualifiedName (pkg/server/provider/provider.go): a name
// without "@" belongs to the provider of the router naming it.
func Qualify(name, provider string) string {
	if strings.Contains(name, "@") {
		return name
	}
	return name + "@" + provider
}
