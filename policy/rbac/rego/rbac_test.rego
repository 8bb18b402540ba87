# Unit tests of the RBAC policy, run by `go test ./policy/rbac/` and `privgate policy test DIR`.
package privgate.rbac_test

import data.privgate.rbac

config(format) := {
	"groups": {"claimFormat": "path"},
	"rbac": {"groupsPrefix": "oidc:", "claimFormat": format},
}

known := {"/developers": true, "/sre": true, "/platform/admins": true}

subject(group) := {"name": concat("", ["oidc:", group]), "group": group, "field": "subjects[0].name"}

ids(inp, format) := result if {
	result := {v.id | some v in rbac.deny} with input as inp
		with data.privgate.config as config(format)
		with data.privgate.groups as known
}

test_known_path if {
	ids({"subjects": [subject("/sre")]}, "path") == set()
}

test_unknown_path if {
	ids({"subjects": [subject("/SRE")]}, "path") == {"group-unknown"}
}

test_bare_name_where_paths_are_expected if {
	ids({"subjects": [subject("sre")]}, "path") == {"group-form"}
}

test_names_derived_from_paths if {
	ids({"subjects": [subject("admins")]}, "name") == set()
	ids({"subjects": [subject("Admins")]}, "name") == {"group-unknown"}
	ids({"subjects": [subject("/sre")]}, "name") == {"group-form"}
}

test_stale_source_warns if {
	warned := {v.id | some v in rbac.warn} with input as {"subjects": [subject("/ops")], "groupsStale": true}
		with data.privgate.config as config("path")
		with data.privgate.groups as known
	warned == {"group-unknown"}
	ids({"subjects": [subject("/ops")], "groupsStale": true}, "path") == set()
}
