# What is wrong with a group named in the groups annotation (groups.annotation), as oauth2-proxy
# will compare it: its form (groups.claimFormat) and whether the group source knows it
# (data.privgate.groups; input.groupsStale). Shared by every target whose objects name allowed
# groups (privgate on Ingresses, privgate.istio on Gateway API routes), so that one group reads
# the same wherever it is named; each target keeps its rule ids and decides where they apply.
package privgate.allowedgroups

cfg := data.privgate.config

# Names the group source holds in this form, the form oauth2-proxy compares.
form_ok(g) if {
	cfg.groups.claimFormat == "path"
	startswith(g, "/")
}

form_ok(g) if {
	cfg.groups.claimFormat == "name"
	not startswith(g, "/")
}

# wrong_form(g) says how to write g in the claim's form; undefined when g is in it.
wrong_form(g) := sprintf("group %q is a bare name, but oauth2-proxy receives full group paths here (claimFormat path): write \"/%s\"", [g, g]) if {
	cfg.groups.claimFormat == "path"
	not startswith(g, "/")
}

wrong_form(g) := sprintf("group %q is a path, but oauth2-proxy receives bare group names here (claimFormat name): write %q", [g, parts[count(parts) - 1]]) if {
	cfg.groups.claimFormat == "name"
	startswith(g, "/")
	parts := split(g, "/")
}

# unknown(g) says why g, in the claim's form, lets nobody in; undefined when it is known. A group
# in the wrong form is reported as that, not as unknown as well.
unknown(g) := msg if {
	form_ok(g)
	not data.privgate.groups[g]
	msg := unknown_message(g)
}

unknown_message(g) := sprintf("group %q is not in the last known list of groups, and the group source has not answered for a while, so it cannot be checked now", [g]) if {
	input.groupsStale
} else := sprintf("group %q does not exist, so nobody would get in (oauth2-proxy compares group names exactly)", [g])

# A stale group source cannot tell a new group from a mistyped one: an unknown group is then a
# caution, not a problem (the caller sorts it into cautions).
stale if input.groupsStale
