package stateapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"offpush/presence"
)

// Limits of the membership routes.
const (
	// MaxGroupMembers bounds the member list of a replace.
	MaxGroupMembers = presence.MaxGroupMembers
	// DefaultMemberCount and MaxMemberCount are the default and the largest count of a
	// members page.
	DefaultMemberCount = 1000
	MaxMemberCount     = 10000
	// MaxMembersBodyBytes is the body limit of a replace, which takes the place of
	// Options.MaxBodyBytes on that route: a list of MaxGroupMembers ids of MaxIDLen bytes
	// each, quoted and comma-separated, plus room for the object around it.
	MaxMembersBodyBytes = MaxGroupMembers*(MaxIDLen+3) + 1024
)

// replaceMembersRoute is the route whose bodies may be up to MaxMembersBodyBytes.
const replaceMembersRoute = "PUT /v1/groups/{groupId}/members"

// MemberPage is the response of GET /v1/groups/{groupId}/members: up to count members and
// the cursor of the next page ("" at the end).
type MemberPage struct {
	UserIDs []string `json:"userIds"`
	Cursor  string   `json:"cursor"`
}

// ReplacedMembers is the response of a replace: how many members the group has now.
type ReplacedMembers struct {
	GroupID string `json:"groupId"`
	Members int64  `json:"members"`
}

// bodyLimit is the body limit of route.
func (a *api) bodyLimit(route string) int64 {
	if route == replaceMembersRoute {
		return max(a.maxBody, MaxMembersBodyBytes)
	}
	return a.maxBody
}

// groupParam returns the valid {groupId} of the path, checked like group ids in message
// events: braces are allowed, the Store escapes them in its keys.
func groupParam(r *http.Request) (string, error) {
	g := r.PathValue("groupId")
	return g, checkID("groupId", g)
}

// memberParams returns the valid {groupId} and {userId} of the path.
func memberParams(r *http.Request) (group, user string, err error) {
	if group, err = groupParam(r); err != nil {
		return "", "", err
	}
	if user, err = userParam(r); err != nil {
		return "", "", err
	}
	return group, user, decodeBody(r, false, nil)
}

// joinGroup adds the user to the group; joining twice is not an error. 204.
func (a *api) joinGroup(r *http.Request) (any, error) {
	group, user, err := memberParams(r)
	if err != nil {
		return nil, err
	}
	return nil, a.store.JoinGroup(r.Context(), group, user)
}

// leaveGroup removes the user from the group; leaving a group one is not in is not an
// error. 204.
func (a *api) leaveGroup(r *http.Request) (any, error) {
	group, user, err := memberParams(r)
	if err != nil {
		return nil, err
	}
	return nil, a.store.LeaveGroup(r.Context(), group, user)
}

// replaceMembers makes the body's userIds the group's member list, at once for readers.
func (a *api) replaceMembers(r *http.Request) (any, error) {
	group, err := groupParam(r)
	if err != nil {
		return nil, err
	}
	var raw *json.RawMessage
	if err := decodeBody(r, true, members{"userIds": &raw}); err != nil {
		return nil, err
	}
	ids, err := memberIDs(raw)
	if err != nil {
		return nil, err
	}
	n, err := a.store.ReplaceMembers(r.Context(), group, ids)
	if err != nil {
		return nil, err
	}
	return ReplacedMembers{GroupID: group, Members: n}, nil
}

// memberIDs validates a replace's userIds: an array of at most MaxGroupMembers user ids.
func memberIDs(raw *json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, badRequest("userIds", "required (an empty array clears the group)")
	}
	var ids []string
	if err := json.Unmarshal(*raw, &ids); err != nil {
		return nil, badElement(*raw)
	}
	if ids == nil {
		return nil, badRequest("userIds", "must be an array of user ids")
	}
	if len(ids) > MaxGroupMembers {
		return nil, badRequest("userIds", "%d entries, at most %d allowed", len(ids), MaxGroupMembers)
	}
	for i, id := range ids {
		if err := checkUserID(id); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				return nil, &apiError{ae.code, fmt.Sprintf("userIds[%d]%s", i, ae.msg[len("userId"):])}
			}
			return nil, err
		}
	}
	return ids, nil
}

// badElement names what makes raw not an array of strings.
func badElement(raw json.RawMessage) error {
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return badRequest("userIds", "must be an array of user ids")
	}
	for i, e := range elems {
		var s string
		if json.Unmarshal(e, &s) != nil {
			return badRequest(fmt.Sprintf("userIds[%d]", i), "must be a string")
		}
	}
	return badRequest("userIds", "must be an array of user ids")
}

// groupMembers pages through the group's current member list; the cursor keeps a reader on the
// list it started with across a replace. An unknown group has no members.
func (a *api) groupMembers(r *http.Request) (any, error) {
	group, err := groupParam(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	count := DefaultMemberCount
	if c := q.Get("count"); c != "" || q.Has("count") {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > MaxMemberCount {
			return nil, badRequest("count", "must be an integer from 1 to %d", MaxMemberCount)
		}
		count = n
	}
	version, after, err := presence.ParseMemberCursor(q.Get("cursor"))
	if err != nil {
		return nil, badRequest("cursor", "unknown (pass back the cursor of the previous page, or none)")
	}
	page, err := a.store.MembersPage(r.Context(), group, version, after, count)
	if err != nil {
		return nil, err
	}
	return MemberPage{UserIDs: page.UserIDs, Cursor: presence.MemberCursor(page)}, nil
}
