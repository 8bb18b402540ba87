# privgate's default policy for RBAC bindings: every group a RoleBinding or ClusterRoleBinding
# grants must exist, in the form the API server's tokens carry it (docs/rbac.md).
#
# Inputs (policy/input.go): input.subjects, [{name, group, field}]: the binding's Group subjects
# under rbac.groupsPrefix, as written (name) and as the token carries them (group);
# input.groupsStale; data.privgate.groups, the known groups in groups.claimFormat's form.
# Outputs: deny and warn, as for Ingresses; the rule ids are the Ingress target's where the
# meaning is the same (group-form, group-unknown), set per rule in privgate.yaml's rbac.rules.
package privgate.rbac

cfg := data.privgate.config

claim_format := cfg.rbac.claimFormat

violation(id, field, message) := {"id": id, "host": "", "field": field, "message": message}

deny contains v if {
	some v in problems
}

warn contains v if {
	some v in cautions
}

problems contains violation("group-form", s.field, msg) if {
	some s in input.subjects
	claim_format == "path"
	not startswith(s.group, "/")
	msg := sprintf("subject %q names group %q, a bare name, but the API server's tokens carry full group paths (rbac.claimFormat path), so it matches nobody: write %q", [s.name, s.group, concat("", [cfg.rbac.groupsPrefix, "/", s.group])])
}

problems contains violation("group-form", s.field, msg) if {
	some s in input.subjects
	claim_format == "name"
	startswith(s.group, "/")
	parts := split(s.group, "/")
	msg := sprintf("subject %q names group %q, a path, but the API server's tokens carry bare group names (rbac.claimFormat name), so it matches nobody: write %q", [s.name, s.group, concat("", [cfg.rbac.groupsPrefix, parts[count(parts) - 1]])])
}

# A group is known as the tokens carry it. When tokens carry names and the source reads paths,
# a name is known when some path ends in it.
known(g) if {
	claim_format == cfg.groups.claimFormat
	data.privgate.groups[g]
}

known(g) if {
	claim_format == "name"
	cfg.groups.claimFormat == "path"
	some path, _ in data.privgate.groups
	parts := split(path, "/")
	parts[count(parts) - 1] == g
}

form_ok(g) if {
	claim_format == "path"
	startswith(g, "/")
}

form_ok(g) if {
	claim_format == "name"
	not startswith(g, "/")
}

unknown contains s if {
	some s in input.subjects
	form_ok(s.group)
	not known(s.group)
}

# "group" lets privgate append "did you mean ...?" from the known groups.
problems contains object.union(violation("group-unknown", s.field, msg), {"group": s.group}) if {
	some s in unknown
	not input.groupsStale
	msg := sprintf("subject %q names group %q, which does not exist, so the binding grants nothing (users get 403; the API server compares group names exactly)", [s.name, s.group])
}

cautions contains object.union(violation("group-unknown", s.field, msg), {"group": s.group}) if {
	some s in unknown
	input.groupsStale
	msg := sprintf("subject %q names group %q, which is not in the last known list of groups, and the group source has not answered for a while, so it cannot be checked now", [s.name, s.group])
}
