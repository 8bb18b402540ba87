// Package traefik is the traefik target: Traefik's CRDs (traefik.io/v1alpha1 IngressRoute,
// IngressRouteTCP, Middleware), judged as Traefik builds their routers: every router answering a
// private host runs the login first, and no Middleware change or deletion uncovers a host in use.
// Traefik's model (config section, rules, chains) is policy/traefik/router, shared with Ingresses.
package traefik
