package h2

import (
	"golang.org/x/net/http2/hpack"
)

// encoder is an HPACK encoder (RFC 7541) specialised for APNs requests: fields marked
// Sensitive (the unique ones) are sent as never-indexed literals without Huffman coding,
// the others are looked up in a small dynamic table of their own and inserted when missing.
// As only the constant headers are inserted, the table holds a handful of entries and a
// lookup is a few string comparisons instead of hpack.Encoder's hashing of every name and
// value (the JWT included).
type encoder struct {
	table   []hpack.HeaderField // newest first
	size    uint32              // RFC 7541 §4.1 size of the entries
	maxSize uint32
	update  bool   // a dynamic table size update is due at the start of the next block
	minSize uint32 // while update: the smallest size since the last block
}

// entryOverhead is the per-entry size overhead of RFC 7541 §4.1.
const entryOverhead = 32

// staticName is the static-table (RFC 7541 Appendix A) index of the names our requests use.
func staticName(name string) (uint64, bool) {
	switch name {
	case ":authority":
		return 1, true
	case ":method":
		return 2, true
	case ":path":
		return 4, true
	case ":scheme":
		return 6, true
	case "accept-encoding":
		return 16, true
	case "authorization":
		return 23, true
	case "content-length":
		return 28, true
	case "content-type":
		return 31, true
	case "user-agent":
		return 58, true
	}
	return 0, false
}

// staticPair is the static-table index of the name-value pairs our requests use.
func staticPair(name, value string) (uint64, bool) {
	switch {
	case name == ":method" && value == "POST":
		return 3, true
	case name == ":method" && value == "GET":
		return 2, true
	case name == ":scheme" && value == "https":
		return 7, true
	case name == ":path" && value == "/":
		return 4, true
	}
	return 0, false
}

func newEncoder(maxSize uint32) *encoder { return &encoder{maxSize: maxSize} }

// setMaxSize changes the table size (after the peer's SETTINGS_HEADER_TABLE_SIZE).
func (e *encoder) setMaxSize(v uint32) {
	if !e.update || v < e.minSize {
		e.minSize = v
	}
	e.maxSize, e.update = v, true
	e.evict()
}

// appendBlock appends the header block of fields to b. It opens with the table size
// updates due: the smallest size since the last block, if below the final one, then the
// final one (RFC 7541 §4.2), so that a decoder that shrank its table and grew it again
// evicts what we evicted.
func (e *encoder) appendBlock(b []byte, fields []hpack.HeaderField) []byte {
	if e.update {
		if e.minSize < e.maxSize {
			b = appendInt(b, 0x20, 5, uint64(e.minSize))
		}
		b = appendInt(b, 0x20, 5, uint64(e.maxSize))
		e.update = false
	}
	for _, f := range fields {
		b = e.appendField(b, f)
	}
	return b
}

func (e *encoder) appendField(b []byte, f hpack.HeaderField) []byte {
	if f.Sensitive {
		return appendLiteral(b, 0x10, 4, f) // never indexed
	}
	if i, ok := e.lookup(f); ok {
		return appendInt(b, 0x80, 7, i) // indexed
	}
	size := uint32(len(f.Name) + len(f.Value) + entryOverhead)
	if size > e.maxSize {
		return appendLiteral(b, 0x00, 4, f) // without indexing: it would not fit
	}
	e.table = append(e.table, hpack.HeaderField{})
	copy(e.table[1:], e.table)
	e.table[0] = hpack.HeaderField{Name: f.Name, Value: f.Value}
	e.size += size
	e.evict()
	return appendLiteral(b, 0x40, 6, f) // with incremental indexing
}

// lookup is the index of f in the static or dynamic table.
func (e *encoder) lookup(f hpack.HeaderField) (uint64, bool) {
	if i, ok := staticPair(f.Name, f.Value); ok {
		return i, true
	}
	for i, t := range e.table {
		if t.Value == f.Value && t.Name == f.Name {
			return uint64(62 + i), true
		}
	}
	return 0, false
}

// evict drops the oldest entries until the table fits its size.
func (e *encoder) evict() {
	for e.size > e.maxSize {
		last := e.table[len(e.table)-1]
		e.size -= uint32(len(last.Name) + len(last.Value) + entryOverhead)
		e.table[len(e.table)-1] = hpack.HeaderField{}
		e.table = e.table[:len(e.table)-1]
	}
}

// appendLiteral appends a literal field representation (RFC 7541 §6.2) with the given
// first-byte pattern and name-index prefix bits; strings are not Huffman-coded.
func appendLiteral(b []byte, pattern byte, prefix uint8, f hpack.HeaderField) []byte {
	if i, ok := staticName(f.Name); ok {
		b = appendInt(b, pattern, prefix, i)
	} else {
		b = append(b, pattern)
		b = appendString(b, f.Name)
	}
	return appendString(b, f.Value)
}

func appendString(b []byte, s string) []byte {
	b = appendInt(b, 0, 7, uint64(len(s)))
	return append(b, s...)
}

// appendInt appends i as an HPACK integer with an n-bit prefix (RFC 7541 §5.1), the first
// byte's other bits set to pattern.
func appendInt(b []byte, pattern byte, n uint8, i uint64) []byte {
	k := uint64(1)<<n - 1
	if i < k {
		return append(b, pattern|byte(i))
	}
	b = append(b, pattern|byte(k))
	for i -= k; i >= 128; i >>= 7 {
		b = append(b, byte(0x80|i&0x7f))
	}
	return append(b, byte(i))
}
