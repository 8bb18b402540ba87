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
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Config is privgate.yaml: the private zones, the oauth2-proxy endpoints, the certificate issuer,
// where group names come from and what violations do. These are the keys every target shares;
// each target's own settings are its Section (section.go), decoded beside them. Every key is
// documented in the README's config reference.
type Config struct {
	PrivateDomains []string `json:"privateDomains"`
	ExemptHosts    []string `json:"exemptHosts,omitempty"`
	Auth           Auth     `json:"auth"`
	TLS            TLS      `json:"tls"`
	Groups         Groups   `json:"groups"`

	// HostlessRules says how a name answering every hostname is judged (an Ingress rule without
	// a host or its defaultBackend, a gateway's "*"): it answers private names too, so "private"
	// (the default) protects it; "public" leaves it alone for clusters whose catch-all is public.
	HostlessRules string `json:"hostlessRules,omitempty"`

	// Enforcement says what becomes of violations, globally and per namespace; each target's
	// section sets them per rule (the most specific wins). See Enforcement.
	Enforcement Enforcement `json:"enforcement,omitempty"`

	// Probe is where the audit's leader probes private hosts from the network; none by default.
	Probe Probe `json:"probe,omitempty"`

	// Dir is the directory of the config file; relative paths in the file resolve against it.
	Dir string `json:"-"`
	// File is the config file's path, for messages.
	File string `json:"-"`

	zoneSet  Zones
	sections []section
}

// Zones is the private-zone matcher, built once when the config is parsed.
func (c *Config) Zones() Zones {
	if c.zoneSet.zones == nil {
		return NewZones(c.PrivateDomains)
	}
	return c.zoneSet
}

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

	defaultGroupsAnnotation = "privgate.io/allowed-groups"
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

// ConfigErrors are every problem of a config file, one a line, so that an operator fixes them
// in one round (as the API server's field.ErrorList reports a manifest's).
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *ConfigError.
func (es ConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// LoadConfig reads, defaults and validates a config file with the sections of plugins (the
// registry's: targets.LoadConfig). Every error is a *ConfigError or ConfigErrors.
func LoadConfig(path string, plugins ...Plugin) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	return ParseConfig(path, data, plugins...)
}

// ParseConfig parses config bytes; path names the file in errors and anchors relative paths.
// Keys no plugin's section defines are errors.
func ParseConfig(path string, data []byte, plugins ...Plugin) (*Config, error) {
	if err := checkKeys(path, data, topFields(plugins)); err != nil {
		return nil, err
	}
	doc, err := yamlToJSON(data)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	cfg := &Config{}
	if err := json.Unmarshal(doc, cfg); err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	if err := cfg.decodeSections(doc, plugins); err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	cfg.File = path
	cfg.Dir = filepath.Dir(path)
	cfg.setDefaults()
	cfg.zoneSet = NewZones(cfg.PrivateDomains)
	for _, s := range cfg.sections {
		if s.present {
			s.s.Default(cfg)
		}
	}
	errs := append(cfg.validate(), cfg.sectionErrors()...)
	if len(errs) > 0 {
		out := make(ConfigErrors, len(errs))
		for i, e := range errs {
			out[i] = &ConfigError{File: path, Key: e.Field, Msg: e.Detail}
		}
		return nil, out
	}
	return cfg, nil
}

func (c *Config) setDefaults() {
	c.Probe.setDefaults()
	if c.HostlessRules == "" {
		c.HostlessRules = "private"
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

// Problem is a config problem at fld, worded as a sentence (the detail of a field.Error, which
// is all privgate prints after the key).
func Problem(fld *field.Path, format string, args ...any) *field.Error {
	return &field.Error{Type: field.ErrorTypeInvalid, Field: fld.String(), Detail: fmt.Sprintf(format, args...)}
}

func (c *Config) validate() field.ErrorList {
	var errs field.ErrorList
	fail := func(fld *field.Path, format string, args ...any) {
		errs = append(errs, Problem(fld, format, args...))
	}
	if len(c.PrivateDomains) == 0 {
		fail(field.NewPath("privateDomains"), "must name at least one zone, such as private.example.com")
	}
	for i, d := range c.PrivateDomains {
		if e := validation.IsDNS1123Subdomain(d); len(e) > 0 {
			fail(field.NewPath("privateDomains").Index(i), "%q is not a DNS name: %s", d, e[0])
		}
	}
	zones := NewZones(c.PrivateDomains)
	for i, h := range c.ExemptHosts {
		if !zones.Private(h) {
			fail(field.NewPath("exemptHosts").Index(i), "%q is not under privateDomains, so it needs no exemption", h)
		}
	}
	if err := checkEndpoint(c.Auth.URL, false); err != nil {
		fail(field.NewPath("auth", "url"), "%v", err)
	}
	if err := checkEndpoint(c.Auth.Signin, true); err != nil {
		fail(field.NewPath("auth", "signin"), "%v", err)
	}
	if c.TLS.ClusterIssuer == "" {
		fail(field.NewPath("tls", "clusterIssuer"), "must name the cert-manager ClusterIssuer for private hosts")
	} else if e := validation.IsDNS1123Subdomain(c.TLS.ClusterIssuer); len(e) > 0 {
		fail(field.NewPath("tls", "clusterIssuer"), "%q is not a valid resource name: %s", c.TLS.ClusterIssuer, e[0])
	}
	switch c.HostlessRules {
	case "private", "public":
	default:
		fail(field.NewPath("hostlessRules"), "must be private or public, not %q", c.HostlessRules)
	}
	errs = append(errs, c.Enforcement.validate()...)
	errs = append(errs, c.Probe.validate(field.NewPath("probe"))...)
	return append(errs, c.validateGroups(field.NewPath("groups"))...)
}

func (c *Config) validateGroups(fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	fail := func(fld *field.Path, format string, args ...any) {
		errs = append(errs, Problem(fld, format, args...))
	}
	g := c.Groups
	if e := validation.IsQualifiedName(g.Annotation); len(e) > 0 {
		fail(fld.Child("annotation"), "%q is not an annotation key: %s", g.Annotation, e[0])
	}
	switch g.ClaimFormat {
	case ClaimFormatPath, ClaimFormatName:
	default:
		fail(fld.Child("claimFormat"), "must be path (\"/developers\") or name (\"SRE\"), not %q", g.ClaimFormat)
	}
	switch g.Source {
	case SourceFile:
		if g.File == "" {
			fail(fld.Child("file"), "required when groups.source is file")
		} else if _, err := os.Stat(c.Path(g.File)); err != nil {
			fail(fld.Child("file"), "cannot read %s: %v", c.Path(g.File), errors.Unwrap(err))
		}
	case SourceKeycloak:
		k := g.Keycloak
		if k == nil {
			fail(fld.Child("keycloak"), "required when groups.source is keycloak")
			break
		}
		kf := fld.Child("keycloak")
		if u, err := url.Parse(k.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			fail(kf.Child("url"), "%q is not an http(s) base URL such as https://keycloak.example.com", k.URL)
		}
		if k.Realm == "" {
			fail(kf.Child("realm"), "required")
		}
		if k.ClientID == "" {
			fail(kf.Child("clientID"), "required")
		}
		if k.ClientSecretFile == "" {
			fail(kf.Child("clientSecretFile"), "required: a file (a mounted Secret) holding the client secret")
		} else if _, err := os.Stat(c.Path(k.ClientSecretFile)); err != nil {
			fail(kf.Child("clientSecretFile"), "cannot read %s: %v", c.Path(k.ClientSecretFile), errors.Unwrap(err))
		}
		if k.CAFile != "" {
			if _, err := os.Stat(c.Path(k.CAFile)); err != nil {
				fail(kf.Child("caFile"), "cannot read %s: %v", c.Path(k.CAFile), errors.Unwrap(err))
			}
		}
		if k.RefreshInterval.Duration < time.Second {
			fail(kf.Child("refreshInterval"), "must be at least 1s")
		}
		if k.MaxStaleness.Duration < k.RefreshInterval.Duration {
			fail(kf.Child("maxStaleness"), "must be at least refreshInterval (%s)", k.RefreshInterval.Duration)
		}
	default:
		fail(fld.Child("source"), "must be file or keycloak, not %q", g.Source)
	}
	return errs
}

// yamlToJSON reads YAML 1.2, where only true and false are booleans: under YAML 1.1's rules
// `rules: {annotation-lockout: off}` would arrive as false. It goes through JSON so that the JSON
// names of Config and the sections are the file's keys, as in every Kubernetes manifest.
func yamlToJSON(data []byte) ([]byte, error) {
	var doc any
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return json.Marshal(doc)
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

// checkKeys reports the first key of the YAML document that neither Config nor a section
// defines (top holds the top level's keys), by its full path and line, so that a typo
// (auth.ulr) stops the program instead of being ignored.
func checkKeys(file string, data []byte, top map[string]reflect.Type) error {
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
	return walkFields(file, "", doc.Content[0], top)
}

func walkKeys(file, prefix string, n *yamlv3.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[metav1.Duration]():
		return walkFields(file, prefix, n, structFields(t))
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

// walkFields checks a mapping against the fields it may have.
func walkFields(file, prefix string, n *yamlv3.Node, fields map[string]reflect.Type) error {
	if n.Kind != yamlv3.MappingNode {
		if n.Kind == yamlv3.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		return &ConfigError{File: file, Line: n.Line, Key: strings.TrimPrefix(prefix, "."), Msg: "must be a mapping"}
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
	return nil
}
