// Package crdschema validates Istio and Gateway API objects against the CRDs shipped with the Go
// modules privgate decodes them with, as the API server does under strict field validation, because
// the Go types silently drop fields written at the wrong level.
//
// Its CEL rules (x-kubernetes-validations) are not run here: cel-go and k8s.io/apiserver would cost
// every privgate process megabytes at start, the webhook's included. The API server still runs them
// at admission, and privgate's Rego rule authz-selector-and-targetrefs covers the one it cares about.
package crdschema
