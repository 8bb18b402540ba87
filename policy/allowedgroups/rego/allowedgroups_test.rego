# Unit tests of the shared group checks, run by `go test ./policy/allowedgroups/`.
package privgate.allowedgroups_test

import data.privgate.allowedgroups

by_path := {"groups": {"claimFormat": "path"}}

by_name := {"groups": {"claimFormat": "name"}}

known := {"/developers": true, "developers": true}

test_known_path_is_fine if {
	not allowedgroups.wrong_form("/developers") with data.privgate.config as by_path
	not allowedgroups.unknown("/developers") with data.privgate.config as by_path with data.privgate.groups as known
}

test_bare_name_where_paths if {
	allowedgroups.wrong_form("developers") == `group "developers" is a bare name, but oauth2-proxy receives full group paths here (claimFormat path): write "/developers"` with data.privgate.config as by_path
}

test_path_where_names if {
	allowedgroups.wrong_form("/ops/SRE") == `group "/ops/SRE" is a path, but oauth2-proxy receives bare group names here (claimFormat name): write "SRE"` with data.privgate.config as by_name
}

# Group names compare exactly: /Developers is not /developers.
test_case_differs_unknown if {
	msg := allowedgroups.unknown("/Developers") with data.privgate.config as by_path with data.privgate.groups as known
	contains(msg, "does not exist")
}

test_stale_unknown_cannot_be_checked if {
	msg := allowedgroups.unknown("/Developers") with data.privgate.config as by_path with data.privgate.groups as known with input as {"groupsStale": true}
	contains(msg, "cannot be checked now")
	allowedgroups.stale with input as {"groupsStale": true}
}

# A group in the wrong form is reported once, as that.
test_wrong_form_not_unknown if {
	not allowedgroups.unknown("sre") with data.privgate.config as by_path with data.privgate.groups as known
}
