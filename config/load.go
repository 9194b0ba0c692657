package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load returns Default() overridden by the YAML file at path (no file when path is ""), then
// by the OFFPUSH_ variables of environ ("NAME=value", as os.Environ returns them), with the
// secrets read from the files their …File keys name. It does not call Validate.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("load config: %w", err)
		}
		if err := decodeYAML(data, &cfg); err != nil {
			return Config{}, fmt.Errorf("load config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return Config{}, fmt.Errorf("load config: environment: %w", err)
	}
	if err := readSecretFiles(reflect.ValueOf(&cfg).Elem(), ""); err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return cfg, nil
}

// decodeYAML decodes the YAML document data onto cfg; keys it leaves out keep their value.
// Unknown keys and inline secrets are errors naming the key's path.
func decodeYAML(data []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if err := checkNode(&doc, reflect.TypeFor[Config](), "", EnvPrefix); err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // also covers what checkNode skips, such as merge keys
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// checkNode checks the YAML node n, decoded into a value of type t at key path and variable
// prefix env: only known keys, no secrets, and values of the right type.
func checkNode(n *yaml.Node, t reflect.Type, path, env string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return checkNode(n.Content[0], t, path, env)
	case n.Kind == 0, n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil // an empty file or key: left as it is
	case isSection(t) && n.Kind == yaml.MappingNode:
		return checkMapping(n, t, path, env)
	case isSection(t):
		return keyErr(cmp.Or(path, "(top level)"), "want a mapping of keys (line %d)", n.Line)
	case isList(t) && n.Kind == yaml.SequenceNode:
		return checkList(n, t, path, env)
	case isList(t):
		return keyErr(path, "want a list (line %d)", n.Line)
	default:
		return checkValue(n, t, path)
	}
}

// checkList checks the elements of the sequence n, decoded into the list type t.
func checkList(n *yaml.Node, t reflect.Type, path, env string) error {
	for i, elem := range n.Content {
		if err := checkNode(elem, t.Elem(), index(path, i), env+"_"+nodeID(elem)); err != nil {
			return err
		}
	}
	return nil
}

// checkValue checks that the value node n decodes into a t, naming the key if it does not.
func checkValue(n *yaml.Node, t reflect.Type, path string) error {
	err := n.Decode(reflect.New(t).Interface())
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		return keyErr(path, "%s", strings.Join(te.Errors, "; "))
	}
	return err
}

// checkMapping checks the keys of the mapping n decoded into the section type t.
func checkMapping(n *yaml.Node, t reflect.Type, path, env string) error {
	keys := keysOf(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, value := n.Content[i], n.Content[i+1]
		if name.Value == "<<" {
			continue // a merge key; the strict decoder checks what it merges
		}
		k, ok := lookupKey(keys, name.Value)
		p := join(path, name.Value)
		switch {
		case !ok:
			return keyErr(p, "unknown key (line %d)", name.Line)
		case k.secret:
			return keyErr(p, "secrets are not accepted in the config file (line %d): set %s or %s",
				name.Line, envName(env, k.name), join(path, fileKey(k)))
		}
		if err := checkNode(value, k.Type, p, envName(env, k.name)); err != nil {
			return err
		}
	}
	return nil
}

// nodeID returns the id of a list element for messages, "<ID>" when it has none.
func nodeID(n *yaml.Node) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "id" {
				return n.Content[i+1].Value
			}
		}
	}
	return "<ID>"
}

// readSecretFiles fills each secret below section v (at key path) from the file its …File
// key names.
func readSecretFiles(v reflect.Value, path string) error {
	keys := keysOf(v.Type())
	for _, k := range keys {
		fv := v.FieldByIndex(k.Index)
		var err error
		switch {
		case k.secret:
			err = readSecretFile(v, keys, k, path)
		case isSection(k.Type):
			err = readSecretFiles(fv, join(path, k.name))
		case isList(k.Type):
			for i := 0; i < fv.Len() && err == nil; i++ {
				err = readSecretFiles(fv.Index(i), index(join(path, k.name), i))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readSecretFile reads the secret k of section from its file, if one is named. A secret
// given both ways is an error: neither silently wins.
func readSecretFile(section reflect.Value, keys []key, k key, path string) error {
	fk, ok := lookupKey(keys, fileKey(k))
	if !ok {
		panic("config: secret " + join(path, k.name) + " has no " + fileKey(k) + " key")
	}
	name := section.FieldByIndex(fk.Index).String()
	if name == "" {
		return nil
	}
	p, dst := join(path, fk.name), section.FieldByIndex(k.Index)
	if !dst.IsZero() {
		return keyErr(p, "%s is also set in the environment; set one or the other", k.name)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return &KeyError{Key: p, Err: err}
	}
	if dst.Kind() == reflect.String {
		dst.SetString(strings.TrimRight(string(data), "\r\n"))
	} else {
		dst.Set(reflect.ValueOf(lines(data)))
	}
	return nil
}

// lines returns the non-blank lines of data, trimmed, skipping # comments.
func lines(data []byte) []string {
	list := []string{}
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			list = append(list, line)
		}
	}
	return list
}
