package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// decodeFast is Decode's fast path: a decoder written for Message alone that reads the usual
// event in one pass, allocating only the strings and slices it returns. It gives up (ok
// false) on anything it does not handle exactly as encoding/json would, and Decode then runs
// the general path (checkKeys, encoding/json), which also words every error. So it never
// produces an error of its own, and whenever it succeeds, encoding/json with checkKeys
// accepts the same bytes and yields the same Message (FuzzDecodeFast checks that).
//
// It gives up on: any syntax error; a value of the wrong JSON type; a key written with
// escapes; a key seen twice in one object; null inside an array; a string holding a \u
// escape of a UTF-16 surrogate; an sdkAppId that is not a plain integer; a sentAt that
// time.Time does not accept; nesting deeper than maxFastDepth; and any key that checkKeys
// would refuse. data must be valid UTF-8 and trimmed of surrounding space.
//
// An event of at most shareMax bytes is copied into one string whose substrings are the
// Message's unescaped strings: one allocation instead of one per string. A string kept
// after the event then keeps at most shareMax bytes alive; larger events (long recipient
// lists) copy each string on its own.
func decodeFast(data []byte) (*Message, bool) {
	d := fastDecoder{b: data}
	if len(data) <= shareMax {
		d.s = string(data)
	}
	m := new(Message)
	if !d.message(m) {
		return nil, false
	}
	d.space()
	if d.i != len(d.b) {
		return nil, false
	}
	return m, true
}

// maxFastDepth bounds the nesting of an unknown field's value that decodeFast skips; deeper
// values go to encoding/json.
const maxFastDepth = 32

// shareMax is the largest event whose strings share one copy of it.
const shareMax = 4 << 10

type fastDecoder struct {
	b     []byte
	s     string // b as a string when it is at most shareMax bytes, else ""
	i     int
	depth int
}

func (d *fastDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips space and returns the next byte, or 0 at the end.
func (d *fastDecoder) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// null consumes a null literal if one is next.
func (d *fastDecoder) null() bool {
	if d.peek() == 'n' && len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// fields walks the object that is next, calling field for each key (without its quotes) with
// the decoder at the key's value; field reads the value and returns false to give up. A key
// that repeats within the object, or that is written with escapes, gives up.
func (d *fastDecoder) fields(field func(key []byte) bool) bool {
	if d.peek() != '{' {
		return false
	}
	d.i++
	d.depth++
	if d.depth > maxFastDepth {
		return false
	}
	if d.peek() == '}' {
		d.i++
		d.depth--
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		start := d.i + 1
		end := start
		for end < len(d.b) && d.b[end] != '"' {
			if c := d.b[end]; c == '\\' || c < 0x20 {
				return false
			}
			end++
		}
		if end == len(d.b) {
			return false
		}
		d.i = end + 1
		if d.peek() != ':' {
			return false
		}
		d.i++
		if !field(d.b[start:end]) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return true
		default:
			return false
		}
	}
}

// seen records key index bit in set and reports whether it was already there.
func seen(set *uint32, bit uint) bool {
	if *set&(1<<bit) != 0 {
		return true
	}
	*set |= 1 << bit
	return false
}

// strField is a string field of an object: its JSON name and where it goes.
type strField struct {
	name string
	dst  *string
}

// strFields reads an object whose fields are all strings (at most 8 of them).
func (d *fastDecoder) strFields(fs ...strField) bool {
	var set uint32
	return d.fields(func(key []byte) bool {
		for i, f := range fs {
			if f.name == string(key) {
				return !seen(&set, uint(i)) && d.str(f.dst)
			}
		}
		return d.unknown(key)
	})
}

// optional reads an object field held by pointer at bit of set: null leaves *p nil, an object
// is read into a new value by read.
func optional[T any](d *fastDecoder, set *uint32, bit uint, p **T, read func(*T) bool) bool {
	if seen(set, bit) {
		return false
	}
	if d.null() {
		return true
	}
	*p = new(T)
	return read(*p)
}

// unknown skips the value of a key that is not a field of the object being read, after
// checking the key as checkKeys would.
func (d *fastDecoder) unknown(key []byte) bool {
	return checkKey(key) == nil && d.skip()
}

func (d *fastDecoder) message(m *Message) bool {
	var set uint32
	return d.fields(func(key []byte) bool {
		switch string(key) {
		case "id":
			return !seen(&set, 0) && d.str(&m.ID)
		case "kind":
			return !seen(&set, 1) && d.str((*string)(&m.Kind))
		case "revokes":
			return !seen(&set, 2) && d.str(&m.Revokes)
		case "sdkAppId":
			return !seen(&set, 3) && d.int64(&m.SDKAppID)
		case "chatType":
			return !seen(&set, 4) && d.str((*string)(&m.ChatType))
		case "sender":
			return !seen(&set, 5) && (d.null() || d.sender(&m.Sender))
		case "group":
			return optional(d, &set, 6, &m.Group, d.group)
		case "recipients":
			return !seen(&set, 7) && d.strings(&m.Recipients)
		case "elems":
			return !seen(&set, 8) && d.elems(&m.Elems)
		case "atUserIds":
			return !seen(&set, 9) && d.strings(&m.AtUserIDs)
		case "atAll":
			return !seen(&set, 10) && d.bool(&m.AtAll)
		case "offlinePush":
			return optional(d, &set, 11, &m.OfflinePush, d.offlinePush)
		case "sentAt":
			return !seen(&set, 12) && d.time(&m.SentAt)
		}
		return d.unknown(key)
	})
}

func (d *fastDecoder) sender(v *Sender) bool {
	return d.strFields(strField{"userId", &v.UserID}, strField{"nickname", &v.Nickname}, strField{"groupNameCard", &v.GroupNameCard})
}

func (d *fastDecoder) group(g *GroupInfo) bool {
	return d.strFields(strField{"id", &g.ID}, strField{"name", &g.Name})
}

func (d *fastDecoder) elem(e *Elem) bool {
	return d.strFields(strField{"type", (*string)(&e.Type)}, strField{"text", &e.Text}, strField{"desc", &e.Desc}, strField{"data", &e.Data})
}

func (d *fastDecoder) offlinePush(p *OfflinePush) bool {
	var set uint32
	return d.fields(func(key []byte) bool {
		switch string(key) {
		case "title":
			return !seen(&set, 0) && d.str(&p.Title)
		case "desc":
			return !seen(&set, 1) && d.str(&p.Desc)
		case "ext":
			return !seen(&set, 2) && d.str(&p.Ext)
		case "pushFlag":
			return !seen(&set, 3) && d.str((*string)(&p.PushFlag))
		case "priority":
			return !seen(&set, 4) && d.str((*string)(&p.Priority))
		case "ios":
			return optional(d, &set, 5, &p.IOS, d.ios)
		case "android":
			return optional(d, &set, 6, &p.Android, d.android)
		}
		return d.unknown(key)
	})
}

func (d *fastDecoder) ios(o *IOS) bool {
	var set uint32
	return d.fields(func(key []byte) bool {
		switch string(key) {
		case "sound":
			return !seen(&set, 0) && d.str(&o.Sound)
		case "ignoreBadge":
			return !seen(&set, 1) && d.bool(&o.IgnoreBadge)
		case "pushType":
			return !seen(&set, 2) && d.str((*string)(&o.PushType))
		case "image":
			return !seen(&set, 3) && d.str(&o.Image)
		case "subtitle":
			return !seen(&set, 4) && d.str(&o.Subtitle)
		case "interruptionLevel":
			return !seen(&set, 5) && d.str((*string)(&o.InterruptionLevel))
		case "backgroundNotification":
			return !seen(&set, 6) && d.bool(&o.BackgroundNotification)
		}
		return d.unknown(key)
	})
}

func (d *fastDecoder) android(a *Android) bool {
	return d.strFields(strField{"title", &a.Title}, strField{"sound", &a.Sound}, strField{"notifyMode", &a.NotifyMode})
}

// str reads a string into s; null leaves s as it is, as encoding/json does.
func (d *fastDecoder) str(s *string) bool {
	if d.null() {
		return true
	}
	v, ok := d.string()
	if ok {
		*s = v
	}
	return ok
}

// string reads the string that is next, unescaping it.
func (d *fastDecoder) string() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			if d.s != "" {
				return d.s[start:j], true
			}
			return string(d.b[start:j]), true
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// escaped reads a string that starts at start and holds escapes.
func (d *fastDecoder) escaped(start int) (string, bool) {
	buf := make([]byte, 0, 64)
	for j := start; j < len(d.b); {
		c := d.b[j]
		switch {
		case c == '"':
			d.i = j + 1
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			j++
			continue
		}
		if j+1 >= len(d.b) {
			return "", false
		}
		switch e := d.b[j+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if j+6 > len(d.b) {
				return "", false
			}
			r, err := strconv.ParseUint(string(d.b[j+2:j+6]), 16, 32)
			if err != nil || (r >= 0xD800 && r < 0xE000) {
				return "", false // a surrogate: encoding/json pairs or replaces it
			}
			buf = utf8.AppendRune(buf, rune(r))
			j += 6
			continue
		default:
			return "", false
		}
		j += 2
	}
	return "", false
}

// strings reads an array of strings into s; null sets s to nil, [] to an empty slice.
func (d *fastDecoder) strings(s *[]string) bool {
	if d.null() {
		return true
	}
	if d.peek() != '[' {
		return false
	}
	d.i++
	out := make([]string, 0, 1)
	if d.peek() == ']' {
		d.i++
		*s = out
		return true
	}
	for {
		v, ok := d.string()
		if !ok {
			return false
		}
		out = append(out, v)
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			*s = out
			return true
		default:
			return false
		}
	}
}

// elems reads the array of elements; null sets it to nil.
func (d *fastDecoder) elems(s *[]Elem) bool {
	if d.null() {
		return true
	}
	if d.peek() != '[' {
		return false
	}
	d.i++
	out := make([]Elem, 0, 1)
	if d.peek() == ']' {
		d.i++
		*s = out
		return true
	}
	for {
		out = append(out, Elem{})
		if !d.elem(&out[len(out)-1]) {
			return false
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			*s = out
			return true
		default:
			return false
		}
	}
}

func (d *fastDecoder) bool(b *bool) bool {
	switch d.peek() {
	case 't':
		if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true" {
			d.i += 4
			*b = true
			return true
		}
	case 'f':
		if len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false" {
			d.i += 5
			*b = false
			return true
		}
	case 'n':
		return d.null()
	}
	return false
}

// int64 reads an integer written without fraction or exponent.
func (d *fastDecoder) int64(n *int64) bool {
	if d.null() {
		return true
	}
	start := d.i
	j := start
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	digits := j
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		j++
	}
	if j == digits || (d.b[digits] == '0' && j-digits > 1) {
		return false
	}
	if j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E') {
		return false
	}
	v, err := strconv.ParseInt(string(d.b[start:j]), 10, 64)
	if err != nil {
		return false
	}
	*n = v
	d.i = j
	return true
}

// time reads sentAt through time.Time's own JSON method, as encoding/json does.
func (d *fastDecoder) time(t *time.Time) bool {
	if d.null() {
		return true
	}
	if d.peek() != '"' {
		return false
	}
	end := d.i + 1
	for end < len(d.b) && d.b[end] != '"' {
		if d.b[end] == '\\' {
			return false
		}
		end++
	}
	if end == len(d.b) {
		return false
	}
	if t.UnmarshalJSON(d.b[d.i:end+1]) != nil {
		return false
	}
	d.i = end + 1
	return true
}

// skip reads over any JSON value, checking its syntax and the keys of its objects.
func (d *fastDecoder) skip() bool {
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.string()
		return ok
	case c == '{':
		return d.fields(d.unknown)
	case c == '[':
		d.i++
		d.depth++
		if d.depth > maxFastDepth {
			return false
		}
		if d.peek() == ']' {
			d.i++
			d.depth--
			return true
		}
		for {
			if !d.skip() {
				return false
			}
			switch d.peek() {
			case ',':
				d.i++
			case ']':
				d.i++
				d.depth--
				return true
			default:
				return false
			}
		}
	case c == 't':
		var b bool
		return d.bool(&b)
	case c == 'f':
		var b bool
		return d.bool(&b)
	case c == 'n':
		return d.null()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return false
}

// number reads over a JSON number.
func (d *fastDecoder) number() bool {
	j := d.i
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
			j++
		}
		return j - k
	}
	if j < len(d.b) && d.b[j] == '0' {
		j++
	} else if digits() == 0 {
		return false
	}
	if j < len(d.b) && d.b[j] == '.' {
		j++
		if digits() == 0 {
			return false
		}
	}
	if j < len(d.b) && (d.b[j] == 'e' || d.b[j] == 'E') {
		j++
		if j < len(d.b) && (d.b[j] == '+' || d.b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return false
		}
	}
	d.i = j
	return true
}
