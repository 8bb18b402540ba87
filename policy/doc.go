// Package policy is privgate's decision core: the config (privgate.yaml), host matching, the
// mutation of private Ingresses, and the Rego engine that judges them. Every door (the webhook,
// privgate check) calls Reviewer; none re-implements a rule.
package policy
