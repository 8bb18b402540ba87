// Package router is Traefik's model, a library (not a target): privgate.yaml's traefik section,
// Traefik's CRD kinds as privgate reads them, middleware IDs, host rules and router priority, and
// the chain a router runs, resolved to stored Middlewares and judged for reaching the login first.
// The Ingress target (Ingresses of Traefik's classes) and the traefik target (its CRDs) share it.
package router
