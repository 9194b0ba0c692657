package config

import (
	"os"
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"offpush/certgen"
)

// TestExampleIsTheDefaults: example.yaml sets every key to its default (certificates aside,
// which have none).
func TestExampleIsTheDefaults(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	if err := decodeYAML(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.APNs.Certificates) != 4 {
		t.Errorf("example has %d certificates, want the three of the product specification and the VoIP one", len(cfg.APNs.Certificates))
	}
	cfg.APNs.Certificates = nil
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("example.yaml differs from Default():\n%v\nwant\n%v", cfg, Default())
	}
}

// TestExampleDocumentsEveryKey: a new key must be added to example.yaml.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	want := leafKeys(reflect.TypeFor[Config](), "")
	got := nodeLeafKeys(doc.Content[0], "")
	slices.Sort(got)
	got = slices.Compact(got)
	slices.Sort(want)
	// Secrets are keys of the type but must not appear in the file.
	want = slices.DeleteFunc(want, func(p string) bool {
		return slices.Contains([]string{"redis.password", "kafka.sasl.password", "apns.certificates[].p12Password", "api.tokens"}, p)
	})
	if !slices.Equal(got, want) {
		t.Errorf("example.yaml keys:\n%q\nwant\n%q", got, want)
	}
}

// nodeLeafKeys lists the paths of the value keys of mapping n, list elements as "[]".
func nodeLeafKeys(n *yaml.Node, path string) []string {
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		p, v := join(path, n.Content[i].Value), n.Content[i+1]
		switch {
		case v.Kind == yaml.MappingNode:
			out = append(out, nodeLeafKeys(v, p)...)
		case v.Kind == yaml.SequenceNode && len(v.Content) > 0 && v.Content[0].Kind == yaml.MappingNode:
			for _, elem := range v.Content {
				out = append(out, nodeLeafKeys(elem, p+"[]")...)
			}
		default:
			out = append(out, p)
		}
	}
	return out
}

// TestExampleRuns loads example.yaml as a deployment would, with the certificate files and
// secrets supplied through the environment, and checks it validates and its credentials load.
func TestExampleRuns(t *testing.T) {
	dir := t.TempDir()
	p8, _ := certgen.P8(t, dir)
	env := []string{
		"OFFPUSH_APNS_CERTIFICATES_2382_P12FILE=" + certgen.P12(t, dir, "com.example.im", "prod-pw", false),
		"OFFPUSH_APNS_CERTIFICATES_2382_P12PASSWORD=prod-pw",
		"OFFPUSH_APNS_CERTIFICATES_2383_P12FILE=" + certgen.P12(t, dir, "com.example.im", "dev-pw", true),
		"OFFPUSH_APNS_CERTIFICATES_2383_P12PASSWORDFILE=" + writeFile(t, dir, "pw", "dev-pw\n"),
		"OFFPUSH_APNS_CERTIFICATES_2516_KEYFILE=" + p8,
		"OFFPUSH_APNS_CERTIFICATES_2390_P12FILE=" + certgen.P12(t, dir, "com.example.im.voip", "voip-pw", true),
		"OFFPUSH_APNS_CERTIFICATES_2390_P12PASSWORDFILE=" + writeFile(t, dir, "voip-pw", "voip-pw\n"),
		"OFFPUSH_API_TOKENS=ops-token",
	}
	cfg, err := Load("example.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.APNs.Certificates {
		var err error
		if c.TokenAuth() {
			_, err = c.LoadAuthKey()
		} else {
			_, _, err = c.LoadTLS()
		}
		if err != nil {
			t.Error(err)
		}
	}
}
