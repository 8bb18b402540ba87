// Package crdschema validates Istio and Gateway API objects against the CRDs shipped with the Go
// modules privgate decodes them with, as the API server does under strict field validation, because
// the Go types silently drop fields written at the wrong level. CEL rules are checked too.
package crdschema
