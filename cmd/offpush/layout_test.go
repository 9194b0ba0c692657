package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLayout pins the package arrows the README's package map draws: the domain packages are
// leaves, render sees only them, apns knows nothing of rendering, the pipeline nothing of the
// configuration, and the binary links no test code.
func TestLayout(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIPPED: no go tool on PATH to list dependencies")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	own := func(pkg string) []string { // offpush packages pkg depends on, itself excluded
		var out []string
		for _, d := range deps(pkg) {
			if strings.HasPrefix(d, "offpush/") && d != pkg {
				out = append(out, d)
			}
		}
		return out
	}
	for pkg, allowed := range map[string][]string{
		"offpush/event":     nil,
		"offpush/recipient": nil,
		"offpush/dlq":       nil,
		"offpush/render":    {"offpush/event", "offpush/recipient"},
		"offpush/apns":      {"offpush/apns/h2"},
		"offpush/presence":  {"offpush/event", "offpush/recipient"},
		"offpush/pipeline":  {"offpush/apns", "offpush/apns/h2", "offpush/dlq", "offpush/event", "offpush/kafkaconn", "offpush/presence", "offpush/recipient", "offpush/render"},
	} {
		for _, d := range own(pkg) {
			if !slices.Contains(allowed, d) {
				t.Errorf("%s depends on %s; it may depend on %v only", pkg, d, allowed)
			}
		}
	}
	if slices.Contains(deps("offpush/cmd/offpush"), "testing") {
		t.Error("the offpush binary links package testing")
	}
}
