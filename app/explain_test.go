package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"offpush/config"
	"offpush/internal/testenv"
	"offpush/presence"
	"offpush/render"
	"offpush/stateapi"
)

// TestExplainCommand: `offpush explain` reads the Redis of its configuration and prints the
// API's report as a table, or as its JSON with --json.
func TestExplainCommand(t *testing.T) {
	srv := testenv.Start(t)
	cfgFile := filepath.Join(t.TempDir(), "offpush.yaml")
	if err := os.WriteFile(cfgFile, []byte("redis:\n  addrs: ["+srv.Addr+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := presence.New(srv.Client(t), presenceOptions(cfg))
	sent, none := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	for _, tok := range []string{sent, none} {
		if err := store.SetToken(ctx, "bob", tok, 2382); err != nil {
			t.Fatal(err)
		}
	}
	c := presence.Claim{UserID: "bob", MsgID: "m-42", Token: sent, SentAt: time.Now(), Attempts: 2}
	if _, err := store.Claim(ctx, []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}
	if err := store.Done(ctx, []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if err := Explain(ctx, []string{"--config", cfgFile, "--user", "bob", "--msg", "m-42"}, nil, &out, &errOut); err != nil {
		t.Fatalf("explain: %v (%s)", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != "user bob, message m-42" || !strings.HasPrefix(lines[1], "TOKEN") {
		t.Fatalf("table:\n%s", out.String())
	}
	for i, w := range [][]string{
		{sent, "apns", "sent", "1", "2", render.APNsID("m-42", sent)},
		{none, "apns", "none", "-", "-", "-", render.APNsID("m-42", none)},
	} {
		f := strings.Fields(lines[2+i])
		got := append(f[:3:3], f[4:]...) // without the time
		if i == 1 {
			got = f
		}
		if strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %q, want fields %q", i, lines[2+i], w)
		}
	}

	out.Reset()
	if err := Explain(ctx, []string{"--config", cfgFile, "--user", "bob", "--msg", "m-42", "--json"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var rep stateapi.PushReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Devices) != 2 || rep.Devices[0].State != "sent" {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	if err := Explain(ctx, []string{"--user", "bob"}, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--user and --msg are required") {
		t.Errorf("without --msg: %v", err)
	}
}
