// Package envoygateway is Envoy Gateway as a Gateway API implementation (its login is a
// SecurityPolicy with extAuth to oauth2-proxy, or with OIDC to the configured issuer, in force on
// a route rule as Envoy Gateway picks it: rule, route, listener, Gateway) and the target judging
// SecurityPolicy writes and deletions that would leave a published private host without login.
package envoygateway
