package presence

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MaxGroupMembers is the largest member list ReplaceMembers takes, as large as the largest
// recipient list of an event.
const MaxGroupMembers = 100000

// replacedGrace is how long the member list a replace took over is kept, so that a fan-out
// reading it finishes on the list it started with. A reader that outlives it moves on to the
// current list at the same position (see MembersPage).
const replacedGrace = 10 * time.Minute

// stagingTTL bounds the life of a new member list that ReplaceMembers is still writing: if
// the writer dies before the switch, the half-written list goes away on its own.
const stagingTTL = 10 * time.Minute

// replaceChunk is how many members one ZADD of ReplaceMembers carries.
const replaceChunk = 5000

// groupEscaper makes a group id safe inside the hash tag {g:…}: without '}' (the first one
// would end the tag) and reversibly ('%' is escaped too, so two ids never share a key).
var groupEscaper = strings.NewReplacer("%", "%25", "}", "%7D")

// groupKey is the hash of a group: its current member list version (v) and the last version
// allocated (n).
func (s *Store) groupKey(groupID string) string {
	return s.opts.Prefix + ":{g:" + groupEscaper.Replace(groupID) + "}:g"
}

// membersPrefix is the members key of a group without its version number.
func (s *Store) membersPrefix(groupID string) string {
	return s.opts.Prefix + ":{g:" + groupEscaper.Replace(groupID) + "}:m:"
}

// memberOpSrc joins (ARGV[2] "+") or leaves (anything else) the user ARGV[3] to the current
// member list of the group. KEYS[1]: group hash; ARGV[1]: members key prefix. Returns the
// ZADD or ZREM count.
const memberOpSrc = `
local key = ARGV[1] .. (redis.call('HGET', KEYS[1], 'v') or '0')
if ARGV[2] == '+' then return redis.call('ZADD', key, 0, ARGV[3]) end
return redis.call('ZREM', key, ARGV[3])
`

// switchSrc makes version ARGV[2] the group's current member list and lets the previous one
// expire ARGV[3] ms later. A new list of ARGV[4] > 0 members whose key is gone (its writer
// outlived stagingTTL) is refused. KEYS[1]: group hash; ARGV[1]: members key prefix.
const switchSrc = `
local key = ARGV[1] .. ARGV[2]
if tonumber(ARGV[4]) > 0 and redis.call('EXISTS', key) == 0 then
  return redis.error_reply('new member list expired before the switch')
end
local old = redis.call('HGET', KEYS[1], 'v')
redis.call('HSET', KEYS[1], 'v', ARGV[2])
redis.call('PERSIST', key)
if old and old ~= ARGV[2] then redis.call('PEXPIRE', ARGV[1] .. old, ARGV[3]) end
return 1
`

// pageSrc reads up to ARGV[4] members after ARGV[3] (empty: from the start) in byte order, from
// version ARGV[2] of the member list, or from the current version when ARGV[2] is empty or its
// list is gone (replaced and expired). KEYS[1]: group hash; ARGV[1]: members key prefix.
// Returns {version read, current size of that version, members}.
const pageSrc = `
local cur = redis.call('HGET', KEYS[1], 'v') or '0'
local v = ARGV[2]
if v == '' or (v ~= cur and redis.call('EXISTS', ARGV[1] .. v) == 0) then v = cur end
local min = '-'
if ARGV[3] ~= '' then min = '(' .. ARGV[3] end
local key = ARGV[1] .. v
local ids = {}
if tonumber(ARGV[4]) > 0 then
  ids = redis.call('ZRANGE', key, min, '+', 'BYLEX', 'LIMIT', 0, ARGV[4])
end
return {v, redis.call('ZCARD', key), ids}
`

var (
	memberOpScript = redis.NewScript(memberOpSrc)
	switchScript   = redis.NewScript(switchSrc)
	pageScript     = redis.NewScript(pageSrc)
)

// JoinGroup adds userID to the current member list of groupID; a member joining again is
// not an error.
func (s *Store) JoinGroup(ctx context.Context, groupID, userID string) error {
	err := memberOpScript.Run(ctx, s.rdb, []string{s.groupKey(groupID)}, s.membersPrefix(groupID), "+", userID).Err()
	if err != nil {
		return fmt.Errorf("join %s to group %s: %w", userID, groupID, err)
	}
	return nil
}

// LeaveGroup removes userID from the current member list of groupID; leaving a group one is
// not in is not an error.
func (s *Store) LeaveGroup(ctx context.Context, groupID, userID string) error {
	err := memberOpScript.Run(ctx, s.rdb, []string{s.groupKey(groupID)}, s.membersPrefix(groupID), "-", userID).Err()
	if err != nil {
		return fmt.Errorf("remove %s from group %s: %w", userID, groupID, err)
	}
	return nil
}

// ReplaceMembers makes userIDs (at most MaxGroupMembers; duplicates count once; empty clears
// the group) the member list of groupID and returns how many members it has. Readers see the
// old list or the new one, never a mix: the new list is written under a new version and the
// group switches to it in one step; the old one is kept for replacedGrace. A join or leave
// made while the new list is being written applies to the old list and is lost with it.
func (s *Store) ReplaceMembers(ctx context.Context, groupID string, userIDs []string) (int64, error) {
	if len(userIDs) > MaxGroupMembers {
		return 0, fmt.Errorf("replace members of group %s: %d members, at most %d", groupID, len(userIDs), MaxGroupMembers)
	}
	gk, prefix := s.groupKey(groupID), s.membersPrefix(groupID)
	v, err := s.rdb.HIncrBy(ctx, gk, "n", 1).Result()
	if err != nil {
		return 0, fmt.Errorf("replace members of group %s: new version: %w", groupID, err)
	}
	version := strconv.FormatInt(v, 10)
	key := prefix + version
	var added int64
	if len(userIDs) > 0 {
		var cmds []*redis.IntCmd
		_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for start := 0; start < len(userIDs); start += replaceChunk {
				chunk := userIDs[start:min(start+replaceChunk, len(userIDs))]
				zs := make([]redis.Z, len(chunk))
				for i, id := range chunk {
					zs[i] = redis.Z{Member: id}
				}
				cmds = append(cmds, p.ZAdd(ctx, key, zs...))
				if start == 0 {
					p.PExpire(ctx, key, stagingTTL)
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("replace members of group %s: write version %s: %w", groupID, version, err)
		}
		for _, c := range cmds {
			added += c.Val()
		}
	}
	err = switchScript.Run(ctx, s.rdb, []string{gk}, prefix, version, replacedGrace.Milliseconds(), added).Err()
	if err != nil {
		return 0, fmt.Errorf("replace members of group %s: switch to version %s: %w", groupID, version, err)
	}
	return added, nil
}

// MemberPage is one page of a group's member list.
type MemberPage struct {
	// Version is the member list read; pass it to the next MembersPage to keep reading the
	// same list across a replace.
	Version string
	// Size is how many members that list has now.
	Size int64
	// UserIDs are the members, in byte order.
	UserIDs []string
	// More is true when members follow the last of UserIDs.
	More bool
}

// ErrBadCursor means a member cursor is not one MembersPage made.
var ErrBadCursor = errors.New("not a member cursor")

// MembersPage reads up to count members of groupID that sort after after ("" from the start),
// from the member list version ("" for the current one). Paging by member is stable: a
// member present from the first page to the last is read exactly once, whatever joins and
// leaves meanwhile; a member who joins or leaves meanwhile is read or not depending on where
// it sorts. If version was replaced and its grace ran out, the page is read from the current
// list at the same position (Version says so). An unknown group has no members. count 0 only
// reads Version and Size.
func (s *Store) MembersPage(ctx context.Context, groupID, version, after string, count int) (MemberPage, error) {
	ask := 0
	if count > 0 {
		ask = count + 1 // one more tells whether members follow
	}
	res, err := pageScript.Run(ctx, s.rdb, []string{s.groupKey(groupID)}, s.membersPrefix(groupID), version, after, ask).Slice()
	if err != nil {
		return MemberPage{}, fmt.Errorf("members of group %s: %w", groupID, err)
	}
	if len(res) != 3 {
		return MemberPage{}, fmt.Errorf("members of group %s: unexpected reply %v", groupID, res)
	}
	page := MemberPage{}
	page.Version, _ = res[0].(string)
	page.Size, _ = res[1].(int64)
	ids, _ := res[2].([]any)
	page.UserIDs = make([]string, 0, min(len(ids), count))
	for _, id := range ids {
		if len(page.UserIDs) == count {
			page.More = true
			break
		}
		u, _ := id.(string)
		page.UserIDs = append(page.UserIDs, u)
	}
	return page, nil
}

// MemberCursor encodes where the next page of a member list starts: its version and the last
// member read. The state API hands it out as is.
func MemberCursor(page MemberPage) string {
	if !page.More || len(page.UserIDs) == 0 {
		return ""
	}
	return page.Version + "." + encodeCursorMember(page.UserIDs[len(page.UserIDs)-1])
}

// ParseMemberCursor splits a cursor of MemberCursor into the version and member to pass to
// MembersPage; "" is the start of the current list. Anything else is ErrBadCursor.
func ParseMemberCursor(c string) (version, after string, err error) {
	if c == "" {
		return "", "", nil
	}
	v, m, ok := strings.Cut(c, ".")
	if !ok || v == "" || m == "" {
		return "", "", ErrBadCursor
	}
	if n, err := strconv.ParseUint(v, 10, 63); err != nil || strconv.FormatUint(n, 10) != v {
		return "", "", ErrBadCursor
	}
	after, err = decodeCursorMember(m)
	if err != nil || after == "" {
		return "", "", ErrBadCursor
	}
	return v, after, nil
}

func encodeCursorMember(m string) string { return base64.RawURLEncoding.EncodeToString([]byte(m)) }

func decodeCursorMember(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return string(b), err
}
