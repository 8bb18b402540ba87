// Package allowedgroups is the Rego, shared by every target whose objects name allowed groups in
// the groups annotation (Ingresses, Gateway API routes), that says whether a named group is in
// the form the group source reads and among the known groups. Each target words its own rules.
package allowedgroups
