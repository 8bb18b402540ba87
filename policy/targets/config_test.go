package targets_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/ingress"
	"github.com/privgate/privgate/policy/istio"
	"github.com/privgate/privgate/policy/targets"
)

const validConfig = `
privateDomains: [Private.Example.com.]
exemptHosts: [oauth2.private.example.com]
auth:
  url: https://oauth2.private.example.com/oauth2/auth
  signin: https://oauth2.private.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri
tls:
  clusterIssuer: letsencrypt-production
ingressClasses: [nginx]
groups:
  annotation: privgate.io/allowed-groups
  claimFormat: path
  source: file
  file: groups.txt
`

// writeConfig writes a config and a groups file into a temp dir and returns the config's path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "groups.txt"), []byte("/developers\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "privgate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := targets.LoadConfig(writeConfig(t, validConfig))
	if err != nil {
		t.Fatal(err)
	}
	ing, _ := policy.Settings[*ingress.Settings](cfg, "ingress")
	ist, _ := policy.Settings[*istio.Settings](cfg, "istio")
	_, rbacOn := cfg.Section("rbac")
	checks := map[string]struct{ got, want any }{
		"zone normalized":   {cfg.PrivateDomains[0], "private.example.com"},
		"annotation prefix": {ing.AnnotationPrefix, "nginx.ingress.kubernetes.io"},
		"hostless rules":    {cfg.HostlessRules, "private"},
		"acme solver user":  {ing.ACMESolverUsers[0], "system:serviceaccount:cert-manager:cert-manager"},
		"groups file":       {cfg.Path(cfg.Groups.File), filepath.Join(cfg.Dir, "groups.txt")},
		"tls suffix":        {ing.TLSSecretSuffix, "-privgate-tls"},
		"istio root":        {ist.RootNamespace, "istio-system"},
		"istio providers":   {len(ist.ExtensionProviders), 0},
		"istio gateway":     {ist.GatewayWorkloads[0].Labels["istio"], "ingressgateway"},
		"rbac off":          {rbacOn, false},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", name, c.got, c.want)
		}
	}
}

func TestLoadConfigKeycloakDefaults(t *testing.T) {
	body := strings.Replace(validConfig, "  source: file\n  file: groups.txt\n", `  source: keycloak
  keycloak:
    url: https://keycloak.example.com
    realm: platform
    clientID: privgate
    clientSecretFile: secret
`, 1)
	cfg, err := targets.LoadConfig(writeConfig(t, body))
	if err != nil {
		t.Fatal(err)
	}
	if k := cfg.Groups.Keycloak; k.RefreshInterval.Duration != time.Minute || k.MaxStaleness.Duration != 15*time.Minute {
		t.Errorf("keycloak defaults: refresh %s, staleness %s", k.RefreshInterval, k.MaxStaleness)
	}
}

// Every config error names the file and the key (and the line, where YAML gives one), so the
// operator can fix it without reading code.
func TestLoadConfigErrors(t *testing.T) {
	cases := map[string]struct {
		old, new string // replace old with new in validConfig
		want     string
	}{
		"unknown key":                            {"  signin:", "  ulr: x\n  signin:", "privgate.yaml:6: auth.ulr: unknown key"},
		"unknown top key":                        {"tls:", "tsl: {}\ntls:", "privgate.yaml:7: tsl: unknown key"},
		"empty zones":                            {"privateDomains: [Private.Example.com.]", "privateDomains: []", "privateDomains: must name at least one zone"},
		"bad zone":                               {"[Private.Example.com.]", "[\"bad zone\"]", "privateDomains[0]: \"bad zone\" is not a DNS name"},
		"exempt outside zones":                   {"exemptHosts: [oauth2.private.example.com]", "exemptHosts: [oauth2.example.com]", "exemptHosts[0]: \"oauth2.example.com\" is not under privateDomains"},
		"http auth url":                          {"url: https://oauth2", "url: http://oauth2", "auth.url: \"http://oauth2.private.example.com/oauth2/auth\" must be https"},
		"auth url userinfo":                      {"url: https://oauth2", "url: https://me@oauth2", "auth.url: \"https://me@oauth2.private.example.com/oauth2/auth\" carries userinfo"},
		"auth url query":                         {"/oauth2/auth\n", "/oauth2/auth?allowed_groups=/x\n", "auth.url: \"https://oauth2.private.example.com/oauth2/auth?allowed_groups=/x\" carries a query"},
		"auth url missing":                       {"  url: https://oauth2.private.example.com/oauth2/auth\n", "", "auth.url: required"},
		"signin not a url":                       {"signin: https://oauth2", "signin: ://oauth2", "auth.signin: \"://oauth2"},
		"no issuer":                              {"clusterIssuer: letsencrypt-production", "clusterIssuer: \"\"", "tls.clusterIssuer: must name"},
		"no classes":                             {"ingressClasses: [nginx]", "ingressClasses: []", "ingressClasses: must name at least one"},
		"bad claim format":                       {"claimFormat: path", "claimFormat: fullpath", "groups.claimFormat: must be path"},
		"bad source":                             {"source: file", "source: ldap", "groups.source: must be file or keycloak"},
		"unreadable file":                        {"file: groups.txt", "file: missing.txt", "groups.file: cannot read"},
		"keycloak missing":                       {"source: file", "source: keycloak", "groups.keycloak: required"},
		"bad hostless":                           {"tls:", "hostlessRules: maybe\ntls:", "hostlessRules: must be private or public"},
		"bad default class":                      {"tls:", "defaultIngressClass: Not_A_Name\ntls:", `defaultIngressClass: "Not_A_Name" is not an IngressClass name`},
		"not a list":                             {"ingressClasses: [nginx]", "ingressClasses: nginx", "privgate.yaml:9: ingressClasses: must be a list"},
		"not yaml":                               {"tls:", "tls: [", "privgate.yaml"},
		"bad global mode":                        {"tls:", "enforcement: {default: block}\ntls:", "enforcement.default: \"block\" is not a mode: want deny, warn, audit or off"},
		"bad namespace mode":                     {"tls:", "enforcement: {namespaces: {legacy: Warn}}\ntls:", "enforcement.namespaces.legacy: \"Warn\" is not a mode"},
		"bad rule mode":                          {"tls:", "rules: {hosts-mixed: allow}\ntls:", "rules.hosts-mixed: \"allow\" is not a mode"},
		"bad default backend":                    {"tls:", "controller: {defaultBackend: default-http-backend}\ntls:", "controller.defaultBackend: \"default-http-backend\" is not a Service as namespace/name"},
		"bad error backend":                      {"tls:", "controller: {errorBackends: [a/b, \"x/Y_z\"]}\ntls:", "controller.errorBackends[1]: \"x/Y_z\" is not a Service"},
		"served by, no such class":               {"tls:", "servedBy: {traefik: traefik-nginx-provider}\ntls:", `servedBy[traefik]: class "traefik" is not in ingressClasses [nginx]`},
		"served by, unknown":                     {"tls:", "servedBy: {nginx: haproxy}\ntls:", `servedBy[nginx]: "haproxy" is not a controller privgate models: use ingress-nginx or traefik-nginx-provider`},
		"provider, own prefix":                   {"tls:", "annotationPrefix: custom.nginx.org\nservedBy: {nginx: traefik-nginx-provider}\ntls:", `annotationPrefix: "custom.nginx.org": class "nginx" is served by Traefik's NGINX provider, which reads only nginx.ingress.kubernetes.io/ annotations`},
		"unknown controller":                     {"tls:", "controller: {noAuthLocation: [/x]}\ntls:", "controller.noAuthLocation: unknown key"},
		"unknown enforcement":                    {"tls:", "enforcement: {rules: {a: off}}\ntls:", "privgate.yaml:7: enforcement.rules: unknown key"},
		"istio key typo":                         {"tls:", "istio: {extensionProvider: [oauth2-proxy]}\ntls:", "privgate.yaml:7: istio.extensionProvider: unknown key"},
		"istio empty provider":                   {"tls:", "istio: {extensionProviders: [\"\"]}\ntls:", "istio.extensionProviders[0]: must name"},
		"istio root namespace":                   {"tls:", "istio: {rootNamespace: Istio_System}\ntls:", "istio.rootNamespace: \"Istio_System\" is not a namespace"},
		"istio no labels":                        {"tls:", "istio: {gatewayWorkloads: [{namespace: istio-system}]}\ntls:", "istio.gatewayWorkloads[0].labels: must name the gateway pods' labels"},
		"istio bad label":                        {"tls:", "istio: {gatewayWorkloads: [{namespace: gw, labels: {app: \"a b\"}}]}\ntls:", "istio.gatewayWorkloads[0].labels.app: \"a b\" is not a label value"},
		"istio not a path":                       {"tls:", "istio: {allowedNotPaths: [healthz]}\ntls:", "istio.allowedNotPaths[0]: \"healthz\" is not a path"},
		"istio rule mode":                        {"tls:", "istio: {rules: {gateway-login: allow}}\ntls:", "istio.rules.gateway-login: \"allow\" is not a mode"},
		"istio group login, no groups":           {"tls:", "istio: {groupLogins: [{provider: p}]}\ntls:", "istio.groupLogins[0].groups: must name the groups this login lets in"},
		"istio group login, padded":              {"tls:", "istio: {groupLogins: [{groups: [\" /sre\"], provider: p}]}\ntls:", "istio.groupLogins[0].groups[0]: \" /sre\" is not a group name"},
		"istio group login, no provider":         {"tls:", "istio: {groupLogins: [{groups: [/sre]}]}\ntls:", "istio.groupLogins[0].provider: must name the meshConfig.extensionProviders entry"},
		"istio group login, everyone's provider": {"tls:", "istio: {extensionProviders: [p], groupLogins: [{groups: [/sre], provider: p}]}\ntls:", "istio.groupLogins[0].provider: \"p\" is in istio.extensionProviders"},
		"istio group logins, same set":           {"tls:", "istio: {groupLogins: [{groups: [/sre, /dev], provider: a}, {groups: [/dev, /sre], provider: b}]}\ntls:", "istio.groupLogins[1].groups: the same groups as istio.groupLogins[0]"},
		"istio group logins, same provider":      {"tls:", "istio: {groupLogins: [{groups: [/sre], provider: a}, {groups: [/dev], provider: a}]}\ntls:", "istio.groupLogins[1].provider: \"a\" is the provider of another group login"},
		"envoy group login, not a Service":       {"tls:", "envoyGateway: {groupLogins: [{groups: [/sre], service: oauth2-proxy}]}\ntls:", "envoyGateway.groupLogins[0].service: \"oauth2-proxy\" is not namespace/name of a Service"},
		"envoy group login, everyone's Service":  {"tls:", "envoyGateway: {extAuthServices: [a/b], groupLogins: [{groups: [/sre], service: a/b}]}\ntls:", "envoyGateway.groupLogins[0].service: \"a/b\" is in envoyGateway.extAuthServices"},
		"envoy group logins, same set":           {"tls:", "envoyGateway: {groupLogins: [{groups: [/sre], service: a/b}, {groups: [/sre, /sre], service: a/c}]}\ntls:", "envoyGateway.groupLogins[1].groups: the same groups as envoyGateway.groupLogins[0]"},
		"envoy group logins, same Service":       {"tls:", "envoyGateway: {groupLogins: [{groups: [/sre], service: a/b}, {groups: [/dev], service: a/b}]}\ntls:", "envoyGateway.groupLogins[1].service: \"a/b\" is the Service of another group login"},
		"probe no address":                       {"tls:", "probe: {scheme: http}\ntls:", "probe.address: required when probe sets anything else"},
		"probe bad address":                      {"tls:", "probe: {address: traefik.svc}\ntls:", "probe.address: \"traefik.svc\" is not HOST:PORT"},
		"probe bad port":                         {"tls:", "probe: {address: \"10.0.0.1:http\"}\ntls:", "probe.address: \"10.0.0.1:http\": port \"http\" is not 1-65535"},
		"probe bad host":                         {"tls:", "probe: {address: \"Traefik_Svc:443\"}\ntls:", "probe.address: \"Traefik_Svc:443\": \"Traefik_Svc\" is neither an IP address nor a DNS name"},
		"probe bad scheme":                       {"tls:", "probe: {address: \"10.0.0.1:443\", scheme: tcp}\ntls:", "probe.scheme: must be http or https"},
		"probe bad signin":                       {"tls:", "probe: {address: \"10.0.0.1:443\", signin: [keycloak]}\ntls:", "probe.signin[0]: \"keycloak\" is not an http(s) URL prefix"},
		"probe bad location":                     {"tls:", "probe: {address: \"10.0.0.1:443\", noAuthLocations: [x]}\ntls:", "probe.noAuthLocations[0]: \"x\" is not a path"},
		"probe bad rate":                         {"tls:", "probe: {address: \"10.0.0.1:443\", rate: 1000}\ntls:", "probe.rate: must be more than 0 and at most 100"},
		"probe unknown key":                      {"tls:", "probe: {adress: \"10.0.0.1:443\"}\ntls:", "privgate.yaml:7: probe.adress: unknown key"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(validConfig, c.old) {
				t.Fatalf("test case does not apply: %q not in config", c.old)
			}
			_, err := targets.LoadConfig(writeConfig(t, strings.Replace(validConfig, c.old, c.new, 1)))
			if err == nil {
				t.Fatal("config accepted")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "privgate.yaml") {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// The controller section defaults to ingress-nginx's own defaults; an explicit empty list means
// the cluster's controller exempts nothing.
func TestLoadConfigController(t *testing.T) {
	cases := map[string]struct {
		section     string
		noAuth, tls []string
	}{
		"defaults":        {"", []string{"/.well-known/acme-challenge"}, []string{"/.well-known/acme-challenge"}},
		"emptied":         {"controller: {noAuthLocations: [], noTLSRedirectLocations: []}\n", []string{}, []string{}},
		"another setting": {"controller: {noAuthLocations: [/.well-known/acme-challenge, /healthz]}\n", []string{"/.well-known/acme-challenge", "/healthz"}, []string{"/.well-known/acme-challenge"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, err := targets.LoadConfig(writeConfig(t, strings.Replace(validConfig, "tls:", c.section+"tls:", 1)))
			if err != nil {
				t.Fatal(err)
			}
			ing, _ := policy.Settings[*ingress.Settings](cfg, "ingress")
			if got := ing.Controller.NoAuthLocations; !slices.Equal(got, c.noAuth) || got == nil {
				t.Errorf("noAuthLocations = %#v, want %#v", got, c.noAuth)
			}
			if got := ing.Controller.NoTLSRedirectLocations; !slices.Equal(got, c.tls) || got == nil {
				t.Errorf("noTLSRedirectLocations = %#v, want %#v", got, c.tls)
			}
		})
	}
}

func TestLoadConfigEnforcement(t *testing.T) {
	body := strings.Replace(validConfig, "tls:", "enforcement:\n  default: warn\n  namespaces: {payments: deny}\nrules: {hosts-mixed: audit, annotation-lockout: off}\ntls:", 1)
	cfg, err := targets.LoadConfig(writeConfig(t, body))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rule, namespace string
		severity, want  policy.Mode
	}{
		{"class-foreign", "web", policy.ModeDeny, policy.ModeWarn},
		{"class-foreign", "payments", policy.ModeDeny, policy.ModeDeny},
		{"hosts-mixed", "payments", policy.ModeDeny, policy.ModeAudit},
		{"issuer-foreign", "web", policy.ModeWarn, policy.ModeWarn},
		{"annotation-lockout", "payments", policy.ModeWarn, policy.ModeOff}, // off unquoted: YAML 1.2, not a boolean
	}
	for _, c := range cases {
		if got := cfg.ModeOf("ingress", c.rule, c.namespace, c.severity); got != c.want {
			t.Errorf("%s in %s (policy says %s): %s, want %s", c.rule, c.namespace, c.severity, got, c.want)
		}
	}
}

func TestLoadConfigUnreadable(t *testing.T) {
	_, err := targets.LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml: cannot read") {
		t.Fatalf("got %v", err)
	}
	_, err = targets.LoadConfig(writeConfig(t, ""))
	if err == nil || !strings.Contains(err.Error(), "privgate.yaml: is empty") {
		t.Fatalf("got %v", err)
	}
}

// Every problem of a file is reported at once, each with its key, across the core's keys and
// every target's section, so that an operator fixes them in one round.
func TestLoadConfigEveryProblem(t *testing.T) {
	body := strings.NewReplacer(
		"url: https://oauth2", "url: http://oauth2",
		"ingressClasses: [nginx]", "ingressClasses: []",
		"tls:", "istio: {rootNamespace: Istio_System, allowedNotPaths: [healthz]}\nrules: {a: allow}\ntls:",
	).Replace(validConfig)
	_, err := targets.LoadConfig(writeConfig(t, body))
	var all policy.ConfigErrors
	if !errors.As(err, &all) {
		t.Fatalf("got %v, want every problem", err)
	}
	want := []string{"auth.url", "ingressClasses", "rules.a", "istio.rootNamespace", "istio.allowedNotPaths[0]"}
	var keys []string
	for _, e := range all {
		keys = append(keys, e.Key)
	}
	for _, k := range want {
		if !slices.Contains(keys, k) {
			t.Errorf("no problem reported at %s; got %q", k, err)
		}
	}
}

// TestProbeDefaults: no probe section, no probe; an address alone probes over https at 10
// requests a second, through ingress-nginx's default no-auth location.
func TestProbeDefaults(t *testing.T) {
	cfg, err := targets.LoadConfig(writeConfig(t, validConfig))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Probe.Enabled() || cfg.Probe.Scheme != "" {
		t.Errorf("probe without a section: %+v", cfg.Probe)
	}
	cfg, err = targets.LoadConfig(writeConfig(t, strings.Replace(validConfig, "tls:", "probe: {address: \"traefik.traefik.svc:443\"}\ntls:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Probe; !p.Enabled() || p.Scheme != "https" || p.Rate != 10 || len(p.NoAuthLocations) != 1 || p.NoAuthLocations[0] != "/.well-known/acme-challenge" {
		t.Errorf("probe defaults: %+v", p)
	}
}
