package event

import (
	"encoding/json"
	"testing"
)

// FuzzDecode proves Decode never panics and that whatever it accepts is valid and survives a
// round trip through JSON (so a DLQ record of an accepted event decodes again).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"id":"m2","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"voice"}]}`))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte("{\"id\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted an invalid message: %v", err)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("re-encoded message rejected: %v\n%s", err, out)
		}
	})
}
