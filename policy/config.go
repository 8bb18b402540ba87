package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is privgate.yaml: the private zones, the oauth2-proxy endpoints, the certificate issuer
// and where group names come from. Every key is documented in the README's config reference.
type Config struct {
	PrivateDomains []string `json:"privateDomains"`
	ExemptHosts    []string `json:"exemptHosts,omitempty"`
	Auth           Auth     `json:"auth"`
	TLS            TLS      `json:"tls"`
	IngressClasses []string `json:"ingressClasses"`
	Groups         Groups   `json:"groups"`

	// HostlessRules says how a rule without a host (or a defaultBackend) is judged: such a rule
	// answers every hostname the controller serves, private ones included, so "private" (the
	// default) protects it; "public" leaves it alone for clusters whose catch-all is public.
	HostlessRules string `json:"hostlessRules,omitempty"`
	// AnnotationPrefix is the ingress-nginx --annotations-prefix (default nginx.ingress.kubernetes.io).
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// DefaultIngressClass is the cluster's default IngressClass (the one annotated
	// ingressclass.kubernetes.io/is-default-class: "true"), which the API server sets on a created
	// Ingress naming no class before privgate sees it; privgate check applies it when the files
	// hold no default IngressClass, so that it judges what the webhook will. "" is none.
	DefaultIngressClass string `json:"defaultIngressClass,omitempty"`
	// IngressControllers are the IngressClass spec.controller values that enforce auth-url: a
	// class in IngressClasses must name an IngressClass served by one of them, when it exists.
	IngressControllers []string `json:"ingressControllers,omitempty"`
	// HostOwnership gives each private host to the namespace of its oldest Ingress.
	HostOwnership HostOwnership `json:"hostOwnership"`
	// RBAC, when set, judges the groups RoleBindings and ClusterRoleBindings grant (the rbac
	// target): the same groups that gate private hosts grant Kubernetes access too.
	RBAC *RBAC `json:"rbac,omitempty"`
	// Istio says how the istio target judges hosts published through Istio and Gateway API
	// gateways: which login providers count, and where the gateways run.
	Istio Istio `json:"istio"`
	// Controller is the ingress-nginx settings that change who gets in; each defaults to the
	// controller's own default, so it needs saying only where the cluster's controller differs.
	Controller Controller `json:"controller"`
	// ACMESolverUsers are the identities allowed to create cert-manager HTTP-01 solver Ingresses
	// (default: cert-manager's own service account in namespace cert-manager).
	ACMESolverUsers []string `json:"acmeSolverUsers,omitempty"`
	// TLSSecretSuffix names the tls entry privgate adds: <ingress name><suffix>.
	TLSSecretSuffix string `json:"tlsSecretSuffix,omitempty"`

	// Enforcement says what becomes of violations, globally and per namespace; Rules, per rule
	// of the Ingress target (the most specific wins). See Enforcement.
	Enforcement Enforcement     `json:"enforcement,omitempty"`
	Rules       map[string]Mode `json:"rules,omitempty"`

	// Dir is the directory of the config file; relative paths in the file resolve against it.
	Dir string `json:"-"`
	// File is the config file's path, for messages.
	File string `json:"-"`

	zoneSet Zones
}

// Zones is the private-zone matcher, built once when the config is parsed.
func (c *Config) Zones() Zones {
	if c.zoneSet.zones == nil {
		return NewZones(c.PrivateDomains)
	}
	return c.zoneSet
}

// Controller mirrors the ingress-nginx (v1.15.1) settings privgate must know to judge an Ingress
// as the controller will serve it (docs/ingress-nginx.md).
type Controller struct {
	// NoAuthLocations is the ConfigMap's no-auth-locations: paths starting with one are served
	// without auth_request. nil means the controller's default.
	NoAuthLocations []string `json:"noAuthLocations"`
	// NoTLSRedirectLocations is the ConfigMap's no-tls-redirect-locations.
	NoTLSRedirectLocations []string `json:"noTLSRedirectLocations"`
	// DefaultBackend is --default-backend-service (namespace/name); "" is the controller's
	// built-in server, which answers 404.
	DefaultBackend string `json:"defaultBackend"`
	// ErrorBackends are the Services (namespace/name) trusted to answer the error pages of
	// custom-http-errors: error-page servers, never apps.
	ErrorBackends []string `json:"errorBackends"`
}

// RBAC is how the API server turns a token's groups into RBAC subjects (--oidc-groups-prefix or
// an AuthenticationConfiguration's claimMappings.groups). One prefix for now; an
// AuthenticationConfiguration with several issuers would make it a list.
type RBAC struct {
	// GroupsPrefix is what the API server puts before each group of the token: only Group
	// subjects starting with it are judged ("" judges every Group subject outside system:).
	GroupsPrefix string `json:"groupsPrefix"`
	// ClaimFormat is the form of the groups in the API server's tokens (default
	// groups.claimFormat: its client may use another Keycloak mapper than oauth2-proxy's).
	ClaimFormat string `json:"claimFormat,omitempty"`
	// Rules sets the modes of this target's rules (rule ids shared with the Ingress target).
	Rules map[string]Mode `json:"rules,omitempty"`
}

// Istio mirrors the mesh config settings privgate must know to tell whether a CUSTOM
// AuthorizationPolicy sends a gateway's requests to login (docs/istio.md).
type Istio struct {
	// ExtensionProviders are meshConfig.extensionProviders names that enforce login
	// (oauth2-proxy as envoyExtAuthzHttp). None by default: then no private host published
	// through a gateway is covered, and every one is refused until it is set.
	ExtensionProviders []string `json:"extensionProviders"`
	// RootNamespace is meshConfig.rootNamespace (default istio-system): its policies apply
	// mesh-wide.
	RootNamespace string `json:"rootNamespace,omitempty"`
	// GatewayWorkloads are the ingress gateways' pods, by namespace and labels (default Istio's
	// own: istio-system, app=istio-ingressgateway, istio=ingressgateway).
	GatewayWorkloads []GatewayWorkload `json:"gatewayWorkloads"`
	// AllowedNotPaths are paths a login rule may leave out (notPaths), such as a health check.
	AllowedNotPaths []string `json:"allowedNotPaths"`
	// Rules sets the modes of this target's rules.
	Rules map[string]Mode `json:"rules,omitempty"`
}

// GatewayWorkload is one set of gateway pods.
type GatewayWorkload struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

// HostOwnership: ingress-nginx merges every Ingress naming a host into one server, so a tenant's
// Ingress for a host another team serves receives that host's requests, session cookies
// included. A private host therefore belongs to the namespace of its oldest Ingress.
type HostOwnership struct {
	// Enabled turns the rule on (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// SharedNamespaces neither own hosts nor are refused them (a platform team's namespace).
	SharedNamespaces []string `json:"sharedNamespaces"`
}

// On reports whether host ownership is judged.
func (h HostOwnership) On() bool { return h.Enabled == nil || *h.Enabled }

// acmeChallenge is where ingress-nginx exempts paths by default: cert-manager's HTTP-01 tokens.
const acmeChallenge = "/.well-known/acme-challenge"

// Auth names the oauth2-proxy endpoints ingress-nginx calls for external authentication.
type Auth struct {
	URL    string `json:"url"`
	Signin string `json:"signin"`
}

// TLS names the cert-manager ClusterIssuer that issues certificates for private hosts.
type TLS struct {
	ClusterIssuer string `json:"clusterIssuer"`
}

// Groups says how an Ingress names the groups it allows and where the known groups come from.
type Groups struct {
	Annotation  string    `json:"annotation,omitempty"`
	ClaimFormat string    `json:"claimFormat,omitempty"`
	Source      string    `json:"source,omitempty"`
	File        string    `json:"file,omitempty"`
	Keycloak    *Keycloak `json:"keycloak,omitempty"`
}

// Keycloak configures groups.source: keycloak.
type Keycloak struct {
	URL                string          `json:"url"`
	Realm              string          `json:"realm"`
	ClientID           string          `json:"clientID"`
	ClientSecretFile   string          `json:"clientSecretFile"`
	RefreshInterval    metav1.Duration `json:"refreshInterval,omitempty"`
	MaxStaleness       metav1.Duration `json:"maxStaleness,omitempty"`
	CAFile             string          `json:"caFile,omitempty"`
	InsecureSkipVerify bool            `json:"insecureSkipVerify,omitempty"`
}

const (
	ClaimFormatPath = "path"
	ClaimFormatName = "name"
	SourceFile      = "file"
	SourceKeycloak  = "keycloak"

	defaultAnnotationPrefix  = "nginx.ingress.kubernetes.io"
	defaultGroupsAnnotation  = "privgate.io/allowed-groups"
	defaultACMESolverUser    = "system:serviceaccount:cert-manager:cert-manager"
	defaultTLSSecretSuffix   = "-privgate-tls"
	defaultIngressController = "k8s.io/ingress-nginx"
)

// ConfigError names the file and the key a config problem is about.
type ConfigError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	where := e.File
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", where, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", where, e.Key, e.Msg)
}

// LoadConfig reads, defaults and validates a config file. Every error is a *ConfigError.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	cfg, err := ParseConfig(path, data)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// ParseConfig parses config bytes; path names the file in errors and anchors relative paths.
func ParseConfig(path string, data []byte) (*Config, error) {
	if err := checkKeys(path, data, reflect.TypeFor[Config]()); err != nil {
		return nil, err
	}
	cfg := &Config{}
	if err := decodeYAML(data, cfg); err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	cfg.File = path
	cfg.Dir = filepath.Dir(path)
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.zoneSet = NewZones(cfg.PrivateDomains)
	return cfg, nil
}

func (c *Config) setDefaults() {
	if c.AnnotationPrefix == "" {
		c.AnnotationPrefix = defaultAnnotationPrefix
	}
	if c.HostlessRules == "" {
		c.HostlessRules = "private"
	}
	if len(c.ACMESolverUsers) == 0 {
		c.ACMESolverUsers = []string{defaultACMESolverUser}
	}
	if c.TLSSecretSuffix == "" {
		c.TLSSecretSuffix = defaultTLSSecretSuffix
	}
	if c.Controller.NoAuthLocations == nil {
		c.Controller.NoAuthLocations = []string{acmeChallenge}
	}
	if c.Controller.NoTLSRedirectLocations == nil {
		c.Controller.NoTLSRedirectLocations = []string{acmeChallenge}
	}
	if len(c.IngressControllers) == 0 {
		c.IngressControllers = []string{defaultIngressController}
	}
	if c.HostOwnership.SharedNamespaces == nil {
		c.HostOwnership.SharedNamespaces = []string{}
	}
	if c.RBAC != nil && c.RBAC.ClaimFormat == "" {
		c.RBAC.ClaimFormat = c.Groups.ClaimFormat
	}
	if c.Controller.ErrorBackends == nil {
		c.Controller.ErrorBackends = []string{}
	}
	if c.Istio.RootNamespace == "" {
		c.Istio.RootNamespace = "istio-system"
	}
	if c.Istio.ExtensionProviders == nil {
		c.Istio.ExtensionProviders = []string{}
	}
	if c.Istio.AllowedNotPaths == nil {
		c.Istio.AllowedNotPaths = []string{}
	}
	if c.Istio.GatewayWorkloads == nil {
		c.Istio.GatewayWorkloads = []GatewayWorkload{{Namespace: "istio-system", Labels: map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}}}
	}
	g := &c.Groups
	if g.Annotation == "" {
		g.Annotation = defaultGroupsAnnotation
	}
	if g.ClaimFormat == "" {
		g.ClaimFormat = ClaimFormatPath
	}
	if g.Source == "" {
		g.Source = SourceFile
	}
	if k := g.Keycloak; k != nil {
		if k.RefreshInterval.Duration == 0 {
			k.RefreshInterval.Duration = 60 * time.Second
		}
		if k.MaxStaleness.Duration == 0 {
			k.MaxStaleness.Duration = 15 * time.Minute
		}
	}
	for i, d := range c.PrivateDomains {
		c.PrivateDomains[i] = NormalizeHost(d)
	}
	for i, h := range c.ExemptHosts {
		c.ExemptHosts[i] = NormalizeHost(h)
	}
}

func (c *Config) validate() error {
	fail := func(key, format string, args ...any) error {
		return &ConfigError{File: c.File, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if len(c.PrivateDomains) == 0 {
		return fail("privateDomains", "must name at least one zone, such as private.example.com")
	}
	for i, d := range c.PrivateDomains {
		if errs := validation.IsDNS1123Subdomain(d); len(errs) > 0 {
			return fail(fmt.Sprintf("privateDomains[%d]", i), "%q is not a DNS name: %s", d, errs[0])
		}
	}
	zones := NewZones(c.PrivateDomains)
	for i, h := range c.ExemptHosts {
		if !zones.Private(h) {
			return fail(fmt.Sprintf("exemptHosts[%d]", i), "%q is not under privateDomains, so it needs no exemption", h)
		}
	}
	if err := checkEndpoint(c.Auth.URL, false); err != nil {
		return fail("auth.url", "%v", err)
	}
	if err := checkEndpoint(c.Auth.Signin, true); err != nil {
		return fail("auth.signin", "%v", err)
	}
	if c.TLS.ClusterIssuer == "" {
		return fail("tls.clusterIssuer", "must name the cert-manager ClusterIssuer for private hosts")
	}
	if errs := validation.IsDNS1123Subdomain(c.TLS.ClusterIssuer); len(errs) > 0 {
		return fail("tls.clusterIssuer", "%q is not a valid resource name: %s", c.TLS.ClusterIssuer, errs[0])
	}
	if len(c.IngressClasses) == 0 {
		return fail("ingressClasses", "must name at least one ingress class whose controller enforces auth-url (such as nginx)")
	}
	if errs := validation.IsDNS1123Subdomain(c.DefaultIngressClass); c.DefaultIngressClass != "" && len(errs) > 0 {
		return fail("defaultIngressClass", "%q is not an IngressClass name: %s", c.DefaultIngressClass, errs[0])
	}
	switch c.HostlessRules {
	case "private", "public":
	default:
		return fail("hostlessRules", "must be private or public, not %q", c.HostlessRules)
	}
	if errs := validation.IsQualifiedName(c.AnnotationPrefix + "/x"); len(errs) > 0 {
		return fail("annotationPrefix", "%q is not an annotation prefix: %s", c.AnnotationPrefix, errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(strings.TrimPrefix(c.TLSSecretSuffix, "-")); len(errs) > 0 {
		return fail("tlsSecretSuffix", "%q cannot end a Secret name: %s", c.TLSSecretSuffix, errs[0])
	}
	for i, b := range append([]string{c.Controller.DefaultBackend}, c.Controller.ErrorBackends...) {
		key := "controller.defaultBackend"
		if i > 0 {
			key = fmt.Sprintf("controller.errorBackends[%d]", i-1)
		}
		if ns, name, ok := strings.Cut(b, "/"); b != "" && (!ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1035Label(name)) > 0) {
			return fail(key, "%q is not a Service as namespace/name", b)
		}
	}
	if err := c.Enforcement.validate(c.Rules); err != nil {
		return fail(err.Key, "%s", err.Msg)
	}
	if r := c.RBAC; r != nil {
		switch {
		case r.ClaimFormat != ClaimFormatPath && r.ClaimFormat != ClaimFormatName:
			return fail("rbac.claimFormat", "must be path or name, not %q", r.ClaimFormat)
		case r.ClaimFormat == ClaimFormatPath && c.Groups.ClaimFormat == ClaimFormatName:
			return fail("rbac.claimFormat", "path needs groups.claimFormat path: the group source then reads full paths, from which names are derived, never the reverse")
		}
		if err := (Enforcement{}).validate(r.Rules); err != nil {
			return fail("rbac."+err.Key, "%s", err.Msg)
		}
	}
	if err := c.validateIstio(fail); err != nil {
		return err
	}
	return c.validateGroups(fail)
}

func (c *Config) validateIstio(fail func(key, format string, args ...any) error) error {
	i := c.Istio
	for n, p := range i.ExtensionProviders {
		if p == "" {
			return fail(fmt.Sprintf("istio.extensionProviders[%d]", n), "must name a meshConfig.extensionProviders entry")
		}
	}
	if errs := validation.IsDNS1123Label(i.RootNamespace); len(errs) > 0 {
		return fail("istio.rootNamespace", "%q is not a namespace: %s", i.RootNamespace, errs[0])
	}
	for n, w := range i.GatewayWorkloads {
		key := fmt.Sprintf("istio.gatewayWorkloads[%d]", n)
		if errs := validation.IsDNS1123Label(w.Namespace); len(errs) > 0 {
			return fail(key+".namespace", "%q is not a namespace: %s", w.Namespace, errs[0])
		}
		if len(w.Labels) == 0 {
			return fail(key+".labels", "must name the gateway pods' labels, such as istio: ingressgateway")
		}
		for k, v := range w.Labels {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return fail(key+".labels", "%q is not a label key: %s", k, errs[0])
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return fail(key+".labels."+k, "%q is not a label value: %s", v, errs[0])
			}
		}
	}
	for n, p := range i.AllowedNotPaths {
		if !strings.HasPrefix(p, "/") {
			return fail(fmt.Sprintf("istio.allowedNotPaths[%d]", n), "%q is not a path (starts with /)", p)
		}
	}
	if err := (Enforcement{}).validate(i.Rules); err != nil {
		return fail("istio."+err.Key, "%s", err.Msg)
	}
	return nil
}

func (c *Config) validateGroups(fail func(key, format string, args ...any) error) error {
	g := c.Groups
	if errs := validation.IsQualifiedName(g.Annotation); len(errs) > 0 {
		return fail("groups.annotation", "%q is not an annotation key: %s", g.Annotation, errs[0])
	}
	switch g.ClaimFormat {
	case ClaimFormatPath, ClaimFormatName:
	default:
		return fail("groups.claimFormat", "must be path (\"/developers\") or name (\"SRE\"), not %q", g.ClaimFormat)
	}
	switch g.Source {
	case SourceFile:
		if g.File == "" {
			return fail("groups.file", "required when groups.source is file")
		}
		if _, err := os.Stat(c.Path(g.File)); err != nil {
			return fail("groups.file", "cannot read %s: %v", c.Path(g.File), errors.Unwrap(err))
		}
	case SourceKeycloak:
		k := g.Keycloak
		if k == nil {
			return fail("groups.keycloak", "required when groups.source is keycloak")
		}
		if u, err := url.Parse(k.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fail("groups.keycloak.url", "%q is not an http(s) base URL such as https://keycloak.example.com", k.URL)
		}
		if k.Realm == "" {
			return fail("groups.keycloak.realm", "required")
		}
		if k.ClientID == "" {
			return fail("groups.keycloak.clientID", "required")
		}
		if k.ClientSecretFile == "" {
			return fail("groups.keycloak.clientSecretFile", "required: a file (a mounted Secret) holding the client secret")
		}
		if _, err := os.Stat(c.Path(k.ClientSecretFile)); err != nil {
			return fail("groups.keycloak.clientSecretFile", "cannot read %s: %v", c.Path(k.ClientSecretFile), errors.Unwrap(err))
		}
		if k.CAFile != "" {
			if _, err := os.Stat(c.Path(k.CAFile)); err != nil {
				return fail("groups.keycloak.caFile", "cannot read %s: %v", c.Path(k.CAFile), errors.Unwrap(err))
			}
		}
		if k.RefreshInterval.Duration < time.Second {
			return fail("groups.keycloak.refreshInterval", "must be at least 1s")
		}
		if k.MaxStaleness.Duration < k.RefreshInterval.Duration {
			return fail("groups.keycloak.maxStaleness", "must be at least refreshInterval (%s)", k.RefreshInterval.Duration)
		}
	default:
		return fail("groups.source", "must be file or keycloak, not %q", g.Source)
	}
	return nil
}

// decodeYAML reads YAML 1.2, where only true and false are booleans: under YAML 1.1's rules
// `rules: {annotation-lockout: off}` would arrive as false. It goes through JSON so that the JSON
// names of Config are the file's keys, as in every Kubernetes manifest.
func decodeYAML(data []byte, v any) error {
	var doc any
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Path resolves a path from the config file against the file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// checkEndpoint accepts an absolute https URL with a host and nothing that could redirect it
// elsewhere (userinfo, fragment). auth.url also takes no query: privgate adds allowed_groups.
func checkEndpoint(raw string, queryOK bool) error {
	if raw == "" {
		return errors.New("required: the oauth2-proxy endpoint as an https URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", raw, errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%q must be https (session cookies travel on it)", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return fmt.Errorf("%q carries userinfo (user@host): name the host alone", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q carries a fragment", raw)
	case !queryOK && u.RawQuery != "":
		return fmt.Errorf("%q carries a query: privgate adds allowed_groups itself", raw)
	}
	return nil
}

// checkKeys reports the first key of the YAML document that Config does not define, by its full
// path and line, so that a typo (auth.ulr) stops the program instead of being ignored.
func checkKeys(file string, data []byte, t reflect.Type) error {
	var doc yamlv3.Node
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &ConfigError{File: file, Msg: "is empty"}
		}
		return &ConfigError{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return &ConfigError{File: file, Msg: "is empty"}
	}
	return walkKeys(file, "", doc.Content[0], t)
}

func walkKeys(file, prefix string, n *yamlv3.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[metav1.Duration]():
		if n.Kind != yamlv3.MappingNode {
			if n.Kind == yamlv3.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return &ConfigError{File: file, Line: n.Line, Key: strings.TrimPrefix(prefix, "."), Msg: "must be a mapping"}
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + "." + k.Value
			ft, ok := fields[k.Value]
			if !ok {
				return &ConfigError{File: file, Line: k.Line, Key: strings.TrimPrefix(key, "."), Msg: "unknown key"}
			}
			if err := walkKeys(file, key, v, ft); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind == yamlv3.SequenceNode {
			for i, item := range n.Content {
				if err := walkKeys(file, fmt.Sprintf("%s[%d]", prefix, i), item, t.Elem()); err != nil {
					return err
				}
			}
		} else if !(n.Kind == yamlv3.ScalarNode && n.Tag == "!!null") {
			return &ConfigError{File: file, Line: n.Line, Key: strings.TrimPrefix(prefix, "."), Msg: "must be a list"}
		}
	}
	return nil
}
