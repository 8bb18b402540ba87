package privgate

deny contains {"id": "team-label", "host": concat(",", protected_hosts), "field": "metadata.labels[team]",
	"message": "private Ingresses carry a team label; add metadata.labels.team"} if {
	protected
	not input.object.metadata.labels.team
}
