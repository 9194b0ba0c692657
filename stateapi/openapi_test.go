package stateapi

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"offpush/presence"
)

// openAPI is the part of openapi.yaml the tests read.
type openAPI struct {
	OpenAPI    string                                `yaml:"openapi"`
	Paths      map[string]map[string]yaml.Node       `yaml:"paths"`
	Components struct{ Parameters map[string]param } `yaml:"components"`
}

// operation is one method of a path.
type operation struct {
	OperationID string         `yaml:"operationId"`
	RequestBody map[string]any `yaml:"requestBody"`
	Responses   map[string]any `yaml:"responses"`
}

type param struct {
	Schema struct{ Example string } `yaml:"schema"`
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

func loadOpenAPI(t *testing.T) (*openAPI, map[string]any) {
	t.Helper()
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi %q, want 3.0.x", doc.OpenAPI)
	}
	return &doc, raw
}

// documented lists the operations of openapi.yaml by ServeMux pattern. A path item's other
// keys (parameters) are skipped.
func (d *openAPI) documented(t *testing.T) map[string]operation {
	ops := map[string]operation{}
	for path, item := range d.Paths {
		for method, node := range item {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// TestOpenAPIRoutes: openapi.yaml documents exactly the routes the handler serves, and the
// mux routes each documented operation (with the example parameters) to its pattern.
func TestOpenAPIRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	ops := doc.documented(t)
	var served []string
	for _, rt := range routeTable {
		served = append(served, rt.pattern)
		if _, ok := ops[rt.pattern]; !ok {
			t.Errorf("served but not documented: %s", rt.pattern)
		}
	}
	for p := range ops {
		if !slices.Contains(served, p) {
			t.Errorf("documented but not served: %s", p)
		}
	}

	h, err := New(presence.New(nil, presence.Options{}), Options{Tokens: []string{"t"}, Certificates: func(int) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	for p := range ops {
		method, path, _ := strings.Cut(p, " ")
		for name, prm := range doc.Components.Parameters {
			path = strings.ReplaceAll(path, "{"+name+"}", prm.Schema.Example)
		}
		req := httptest.NewRequest(method, path, nil)
		if _, route := h.(*api).match(req); route != p {
			t.Errorf("%s %s is routed to %q, want %q", method, path, route, p)
		}
	}
}

// TestOpenAPIResponses: every operation documents a success and the errors any request can
// get; operations with a body document 413 and 415.
func TestOpenAPIResponses(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	for p, op := range doc.documented(t) {
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", p)
		}
		want := []string{"400", "401", "404", "405", "500", "503"}
		if op.RequestBody != nil {
			want = append(want, "413", "415")
		}
		if op.Responses["200"] == nil && op.Responses["204"] == nil {
			t.Errorf("%s: no 200 or 204", p)
		}
		for _, code := range want {
			if op.Responses[code] == nil {
				t.Errorf("%s: response %s not documented", p, code)
			}
		}
	}
}

// TestOpenAPIRefs: every $ref points at a component that exists.
func TestOpenAPIRefs(t *testing.T) {
	_, raw := loadOpenAPI(t)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && !resolves(raw, ref) {
				t.Errorf("$ref %q does not resolve", ref)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(raw)
}

func resolves(doc map[string]any, ref string) bool {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// TestOpenAPIExamples: the documented path parameter examples pass validation.
func TestOpenAPIExamples(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	prm := doc.Components.Parameters
	if err := checkUserID(prm["userId"].Schema.Example); err != nil {
		t.Error(err)
	}
	if err := checkToken(prm["deviceToken"].Schema.Example); err != nil {
		t.Error(err)
	}
	req := httptest.NewRequest(http.MethodPut, "/", nil)
	req.SetPathValue("conversationId", prm["conversationId"].Schema.Example)
	if _, err := convParam(req); err != nil {
		t.Error(err)
	}
}
