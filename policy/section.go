package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Section is a target's part of privgate.yaml: its settings, decoded from the file, defaulted
// and validated by the target, and handed to its Rego as part of data.privgate.config at the
// same place. The core reads none of them; it only looks up a section's rule modes by the
// target's name (see Config.mode).
type Section interface {
	// Key is the section's key in privgate.yaml ("istio"). "" places the target's keys at the
	// top level, beside the core's (the Ingress target's, which predate sections).
	Key() string
	// Default fills in what the file leaves out; core is the parsed core config (defaulted).
	Default(core *Config)
	// Validate reports every problem of the section, each under its path (fld is the section's
	// own: nil for a top-level section).
	Validate(core *Config, fld *field.Path) field.ErrorList
	// Rules are the modes the section sets for its target's rules (its rules key).
	Rules() map[string]Mode
}

// Optional is a Section whose target is off unless the file has the section (rbac: judging
// bindings is opted into). An absent optional section is neither defaulted nor validated.
type Optional interface {
	Optional() bool
}

// Plugin is a target as the registry (policy/targets) lists it: its name, its config section
// and how it is built under a parsed config. It is what lets a new target be one package and
// one registry line: the core and the doors read everything else from the target itself.
type Plugin struct {
	// Name is the target's Name(): its section's rule modes are looked up by it.
	Name string
	// Section makes the target's empty settings (nil: it has none).
	Section func() Section
	// New builds the target; nil when the config turns it off.
	New func(*Config) Target
	// Modules are the target's default Rego files and tests, whatever a config says: what an
	// admin's policy directory is laid over and tested with.
	Modules func() Modules
	// Fixes, when set, gives the target a command of its own, `privgate <name> policy`,
	// printing what its Fixer writes; the texts are the command's help.
	Fixes *Help
}

// Help is a command's one-line and long description.
type Help struct{ Short, Long string }

// Fixer is a Target that writes the objects that would put login in front of what its stored
// objects leave uncovered (Istio: the CUSTOM AuthorizationPolicy per gateway workload).
type Fixer interface {
	Fixes(c Cluster) []Fix
}

// Fix is one object to apply, with a comment saying what it covers.
type Fix struct {
	Comment string
	Object  map[string]any
}

// section is one target's settings in a parsed config.
type section struct {
	name    string
	s       Section
	present bool // the file has the section (always true for a top-level one)
}

// Section is the settings of the target named name, and whether the file has them (an absent
// optional section); nil when no such target was registered with the parse.
func (c *Config) Section(name string) (Section, bool) {
	for _, s := range c.sections {
		if s.name == name {
			return s.s, s.present
		}
	}
	return nil, false
}

// Settings is the section of target name as its own type T (each target reads its own
// settings this way); the zero T when absent or of another type.
func Settings[T Section](c *Config, name string) (T, bool) {
	s, ok := c.Section(name)
	t, typed := s.(T)
	return t, ok && typed
}

// decodeSections decodes each plugin's section from the document (JSON of the whole file).
func (c *Config) decodeSections(doc []byte, plugins []Plugin) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return err
	}
	for _, p := range plugins {
		if p.Section == nil {
			continue
		}
		s := p.Section()
		raw, present := doc, true
		if k := s.Key(); k != "" {
			raw, present = top[k]
		}
		if present {
			if err := json.Unmarshal(raw, s); err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		if o, ok := s.(Optional); !present && !(ok && o.Optional()) {
			present = true // a section that is always there, defaulted
		}
		c.sections = append(c.sections, section{name: p.Name, s: s, present: present})
	}
	return nil
}

// topFields are the keys the top level of the file may have, with their types: the core's,
// the top-level sections' and the keyed sections' keys.
func topFields(plugins []Plugin) map[string]reflect.Type {
	fields := structFields(reflect.TypeFor[Config]())
	for _, p := range plugins {
		if p.Section == nil {
			continue
		}
		s := p.Section()
		if k := s.Key(); k != "" {
			fields[k] = reflect.TypeOf(s)
		} else {
			maps.Copy(fields, structFields(reflect.TypeOf(s)))
		}
	}
	return fields
}

// structFields are a struct type's fields by JSON name.
func structFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" && f.IsExported() {
			fields[name] = f.Type
		}
	}
	return fields
}

// MarshalJSON is the config as the policy reads it (data.privgate.config): the core's keys and
// every section present, at its key or, for a top-level section, beside the core's keys.
func (c *Config) MarshalJSON() ([]byte, error) {
	type core Config // without this method
	b, err := json.Marshal((*core)(c))
	if err != nil {
		return nil, err
	}
	doc := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	for _, s := range c.sections {
		if !s.present {
			continue
		}
		b, err := json.Marshal(s.s)
		if err != nil {
			return nil, err
		}
		if k := s.s.Key(); k != "" {
			doc[k] = b
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, err
		}
		maps.Copy(doc, fields)
	}
	return json.Marshal(doc)
}

// sectionErrors defaults and validates every present section, and their rule modes.
func (c *Config) sectionErrors() field.ErrorList {
	var errs field.ErrorList
	for _, s := range c.sections {
		if !s.present {
			continue
		}
		var fld *field.Path
		if k := s.s.Key(); k != "" {
			fld = field.NewPath(k)
		}
		errs = append(errs, s.s.Validate(c, fld)...)
		errs = append(errs, validateRules(s.s.Rules(), child(fld, "rules"))...)
	}
	return errs
}

// child is fld.Child(name), from the top level when fld is nil.
func child(fld *field.Path, name string) *field.Path {
	if fld == nil {
		return field.NewPath(name)
	}
	return fld.Child(name)
}
