package stateapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"offpush/stateapi"
)

// members reads the group's whole member list through the API, count at a time.
func (e *env) members(group string, count int) []string {
	e.t.Helper()
	var out []string
	cursor := ""
	for range 100000 {
		p := decode[stateapi.MemberPage](e.t, e.call("GET", fmt.Sprintf("/v1/groups/%s/members?count=%d&cursor=%s", url.PathEscape(group), count, url.QueryEscape(cursor)), ""), http.StatusOK)
		if p.UserIDs == nil {
			e.t.Fatal("userIds is null, want an array")
		}
		if len(p.UserIDs) > count {
			e.t.Fatalf("page of %d, count %d", len(p.UserIDs), count)
		}
		out = append(out, p.UserIDs...)
		if p.Cursor == "" {
			return out
		}
		cursor = p.Cursor
	}
	e.t.Fatal("the cursor never ends")
	return nil
}

// TestMemberRoutes drives each membership route and checks the member list after it.
func TestMemberRoutes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		code         int
		want         []string // the members of g-42 afterwards
	}{
		// An unknown group reads as empty.
		{"get unknown", "GET", "/v1/groups/g-42/members", "", 200, nil},
		// Join needs no body.
		{"join", "PUT", "/v1/groups/g-42/members/bob", "", 204, []string{"bob"}},
		// Joining twice is a 204 too; {} is an empty body.
		{"join twice", "PUT", "/v1/groups/g-42/members/bob", "{}", 204, []string{"bob"}},
		{"join another", "PUT", "/v1/groups/g-42/members/alice", "", 204, []string{"alice", "bob"}},
		// Leaving a group one is not in is a 204.
		{"leave non-member", "DELETE", "/v1/groups/g-42/members/zed", "", 204, []string{"alice", "bob"}},
		{"leave", "DELETE", "/v1/groups/g-42/members/alice", "", 204, []string{"bob"}},
		// A replace: duplicates count once.
		{"replace", "PUT", "/v1/groups/g-42/members", `{"userIds":["carol","dave","carol"]}`, 200, []string{"carol", "dave"}},
		// An empty list clears the group.
		{"clear", "PUT", "/v1/groups/g-42/members", `{"userIds":[]}`, 200, nil},
		// A group id with braces and escapes is a group of its own.
		{"braces", "PUT", "/v1/groups/" + url.PathEscape("g-42}{%7D") + "/members/eve", "", 204, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			e.call(tc.method, tc.path, tc.body).must(t, tc.code)
			for _, count := range []int{1, 1000} {
				if got := e.members("g-42", count); !slices.Equal(got, tc.want) {
					t.Errorf("members by %d = %q, want %q", count, got, tc.want)
				}
			}
		})
	}
	if got := e.members("g-42}{%7D", 10); !slices.Equal(got, []string{"eve"}) {
		t.Errorf("members of the braced group = %q", got)
	}
	r := decode[stateapi.ReplacedMembers](t, e.call("PUT", "/v1/groups/g-42/members", `{"userIds":["a","b","a"]}`), 200)
	if r.GroupID != "g-42" || r.Members != 2 {
		t.Errorf("replace answered %+v, want g-42 with 2 members", r)
	}
}

// TestMemberPaging pages through 2500 members with the default and other counts, and reads
// an empty group's page exactly.
func TestMemberPaging(t *testing.T) {
	e := newEnv(t)
	ids := make([]string, 2500)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%05d", i)
	}
	body, _ := json.Marshal(map[string][]string{"userIds": ids})
	e.call("PUT", "/v1/groups/big/members", string(body)).must(t, 200)
	p := decode[stateapi.MemberPage](t, e.call("GET", "/v1/groups/big/members", ""), 200)
	if len(p.UserIDs) != stateapi.DefaultMemberCount || p.Cursor == "" {
		t.Errorf("default page: %d members, cursor %q; want %d and a cursor", len(p.UserIDs), p.Cursor, stateapi.DefaultMemberCount)
	}
	for _, count := range []int{1000, 2499, 2500, 10000} {
		if got := e.members("big", count); !slices.Equal(got, ids) {
			t.Errorf("by %d: %d members, want %d in order", count, len(got), len(ids))
		}
	}
	if got := e.call("GET", "/v1/groups/none/members?count=5", "").must(t, 200); got != `{"userIds":[],"cursor":""}`+"\n" {
		t.Errorf("unknown group answered %s", got)
	}
}

// TestMemberPagingAcrossReplace: a cursor stays on the list it started with.
func TestMemberPagingAcrossReplace(t *testing.T) {
	e := newEnv(t)
	e.call("PUT", "/v1/groups/g/members", `{"userIds":["a1","a2","a3","a4"]}`).must(t, 200)
	p := decode[stateapi.MemberPage](t, e.call("GET", "/v1/groups/g/members?count=2", ""), 200)
	e.call("PUT", "/v1/groups/g/members", `{"userIds":["b1","b2"]}`).must(t, 200)
	rest := decode[stateapi.MemberPage](t, e.call("GET", "/v1/groups/g/members?count=10&cursor="+url.QueryEscape(p.Cursor), ""), 200)
	if got := append(p.UserIDs, rest.UserIDs...); !slices.Equal(got, []string{"a1", "a2", "a3", "a4"}) {
		t.Errorf("read across a replace: %q, want the old list", got)
	}
	if got := e.members("g", 10); !slices.Equal(got, []string{"b1", "b2"}) {
		t.Errorf("a new reader: %q, want the new list", got)
	}
}

// TestMemberValidation: every validation error of the membership routes is a 4xx naming the
// field, and changes nothing.
func TestMemberValidation(t *testing.T) {
	e := newEnv(t)
	e.call("PUT", "/v1/groups/g/members/keep", "").must(t, 204)
	long := strings.Repeat("x", stateapi.MaxIDLen+1)
	tooMany, _ := json.Marshal(map[string][]string{"userIds": make([]string, stateapi.MaxGroupMembers+1)})
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		code         int
		err          string
	}{
		// Path parameters.
		{"group too long", "PUT", "/v1/groups/" + long + "/members/bob", "", 400, "groupId: longer than 256 bytes"},
		{"group control char", "GET", "/v1/groups/g%01/members", "", 400, "groupId: must not contain control characters"},
		{"group not UTF-8", "DELETE", "/v1/groups/g%ff/members/bob", "", 400, "groupId: not valid UTF-8"},
		{"user with brace", "PUT", "/v1/groups/g/members/b%7Bob", "", 400, "userId: must not contain '{' or '}'"},
		{"user too long", "DELETE", "/v1/groups/g/members/" + long, "", 400, "userId: longer than 256 bytes"},
		// Join and leave take no body.
		{"join with a member", "PUT", "/v1/groups/g/members/bob", `{"x":1}`, 400, `body: unknown field "x"`},
		{"join with a non-object", "PUT", "/v1/groups/g/members/bob", `[1]`, 400, "body: must be a JSON object"},
		// Replace bodies.
		{"replace without body", "PUT", "/v1/groups/g/members", "", 400, "body: required"},
		{"replace without userIds", "PUT", "/v1/groups/g/members", `{}`, 400, "userIds: required"},
		{"replace null", "PUT", "/v1/groups/g/members", `{"userIds":null}`, 400, "userIds: required"},
		{"replace not an array", "PUT", "/v1/groups/g/members", `{"userIds":"bob"}`, 400, "userIds: must be an array of user ids"},
		{"replace a number", "PUT", "/v1/groups/g/members", `{"userIds":["a",7]}`, 400, "userIds[1]: must be a string"},
		{"replace an empty id", "PUT", "/v1/groups/g/members", `{"userIds":["a",""]}`, 400, "userIds[1]: required"},
		{"replace a braced id", "PUT", "/v1/groups/g/members", `{"userIds":["a}"]}`, 400, "userIds[0]: must not contain '{' or '}'"},
		{"replace a control char", "PUT", "/v1/groups/g/members", `{"userIds":["a\u0007"]}`, 400, "userIds[0]: must not contain control characters"},
		{"replace unknown member", "PUT", "/v1/groups/g/members", `{"userIds":[],"ids":[]}`, 400, `body: unknown field "ids"`},
		{"replace too many", "PUT", "/v1/groups/g/members", string(tooMany), 400, "userIds: 100001 entries, at most 100000 allowed"},
		{"replace invalid JSON", "PUT", "/v1/groups/g/members", `{"userIds":[`, 400, "body: invalid JSON"},
		// Paging parameters.
		{"count zero", "GET", "/v1/groups/g/members?count=0", "", 400, "count: must be an integer from 1 to 10000"},
		{"count empty", "GET", "/v1/groups/g/members?count=", "", 400, "count: must be an integer from 1 to 10000"},
		{"count too large", "GET", "/v1/groups/g/members?count=10001", "", 400, "count: must be an integer from 1 to 10000"},
		{"count not a number", "GET", "/v1/groups/g/members?count=ten", "", 400, "count: must be an integer from 1 to 10000"},
		{"unknown cursor", "GET", "/v1/groups/g/members?cursor=nope", "", 400, "cursor: unknown"},
		{"cursor bad version", "GET", "/v1/groups/g/members?cursor=x.YQ", "", 400, "cursor: unknown"},
		// Methods.
		{"POST members", "POST", "/v1/groups/g/members", "", 405, "method POST not allowed"},
		{"GET one member", "GET", "/v1/groups/g/members/bob", "", 405, "method GET not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.call(tc.method, tc.path, tc.body)
			r.must(t, tc.code)
			if !strings.HasPrefix(r.errorText(), tc.err) {
				t.Errorf("error %q, want it to start with %q", r.errorText(), tc.err)
			}
			if got := e.members("g", 10); !slices.Equal(got, []string{"keep"}) {
				t.Errorf("members after a refused request: %q", got)
			}
		})
	}
	// Content-Type is checked like on every route.
	req := e.request("PUT", "/v1/groups/g/members", `{"userIds":[]}`)
	req.Header.Set("Content-Type", "text/plain")
	e.send(req).must(t, http.StatusUnsupportedMediaType)
}

// TestReplaceBodyLimit: a replace takes the 100000-id list, far over api.maxBodyBytes, which
// still holds for the other routes; a body over MaxMembersBodyBytes is a 413.
func TestReplaceBodyLimit(t *testing.T) {
	e := newEnv(t, func(o *stateapi.Options) { o.MaxBodyBytes = 1024 })
	ids := make([]string, stateapi.MaxGroupMembers)
	for i := range ids {
		ids[i] = fmt.Sprintf("member-%07d", i)
	}
	body, _ := json.Marshal(map[string][]string{"userIds": ids})
	r := decode[stateapi.ReplacedMembers](t, e.call("PUT", "/v1/groups/big/members", string(body)), 200)
	if r.Members != stateapi.MaxGroupMembers {
		t.Errorf("replace of %d ids: %d members", len(ids), r.Members)
	}
	n, err := e.store.MembersPage(context.Background(), "big", "", "", 0)
	if err != nil || n.Size != stateapi.MaxGroupMembers {
		t.Errorf("stored size %d, %v", n.Size, err)
	}
	huge := `{"userIds":["` + strings.Repeat("x", stateapi.MaxMembersBodyBytes) + `"]}`
	if got := e.call("PUT", "/v1/groups/big/members", huge); got.code != http.StatusRequestEntityTooLarge ||
		got.errorText() != fmt.Sprintf("body: larger than %d bytes", stateapi.MaxMembersBodyBytes) {
		t.Errorf("oversized replace: %d %s", got.code, got.body)
	}
	big := `{"busiId":2382,"x":"` + strings.Repeat("x", 2000) + `"}`
	e.call("PUT", "/v1/users/bob/devices/"+tokA, big).must(t, http.StatusRequestEntityTooLarge)
}

// TestMembersRedisDown: a Store failure is a 503, never a 500.
func TestMembersRedisDown(t *testing.T) {
	ownServer(t)
	e := newEnv(t)
	e.redis.Kill()
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/v1/groups/g/members/bob", ""},
		{"DELETE", "/v1/groups/g/members/bob", ""},
		{"PUT", "/v1/groups/g/members", `{"userIds":["a"]}`},
		{"GET", "/v1/groups/g/members", ""},
	} {
		e.call(c.method, c.path, c.body).must(t, http.StatusServiceUnavailable)
	}
}
