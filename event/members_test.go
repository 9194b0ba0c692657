package event

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGroupEventWithoutRecipients: a group event may leave recipients out (it goes to the
// group's members); a c2c event may not, and an empty list is refused for both.
func TestGroupEventWithoutRecipients(t *testing.T) {
	const group = `{"id":"m1","chatType":"group","sender":{"userId":"alice"},"group":{"id":"g1"},%s"elems":[{"type":"text","text":"hi"}]}`
	const c2c = `{"id":"m1","chatType":"c2c","sender":{"userId":"alice"},%s"elems":[{"type":"text","text":"hi"}]}`
	for _, tc := range []struct {
		name, in  string
		toMembers bool
		err       string // "" accepted
	}{
		// No recipients member: the group's members.
		{"group, absent", strings.Replace(group, "%s", "", 1), true, ""},
		// null reads as absent.
		{"group, null", strings.Replace(group, "%s", `"recipients":null,`, 1), true, ""},
		// A list: as before.
		{"group, listed", strings.Replace(group, "%s", `"recipients":["bob"],`, 1), false, ""},
		// An empty list would push to no one.
		{"group, empty", strings.Replace(group, "%s", `"recipients":[],`, 1), false, "recipients: must not be empty (leave it out"},
		// c2c still needs its recipient.
		{"c2c, absent", strings.Replace(c2c, "%s", "", 1), false, "recipients: must not be empty"},
		{"c2c, null", strings.Replace(c2c, "%s", `"recipients":null,`, 1), false, "recipients: must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode([]byte(tc.in))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			case err != nil:
				return
			}
			if m.ToMembers() != tc.toMembers {
				t.Errorf("ToMembers = %v, want %v", m.ToMembers(), tc.toMembers)
			}
		})
	}
}

// TestNarrowMembersEvent: the dead letter of a members event names its one recipient, so a
// replay never resolves the group again, and it still decodes.
func TestNarrowMembersEvent(t *testing.T) {
	m, err := Decode([]byte(`{"id":"m1","chatType":"group","sender":{"userId":"alice"},"group":{"id":"g1"},"elems":[{"type":"text"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	n := m.Narrow("bob")
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatalf("narrowed record %s: %v", b, err)
	}
	if back.ToMembers() || len(back.Recipients) != 1 || back.Recipients[0] != "bob" {
		t.Errorf("narrowed record %s: recipients %q, ToMembers %v", b, back.Recipients, back.ToMembers())
	}
	if m.ToMembers() != true {
		t.Error("Narrow changed the original")
	}
}
