package h2

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// op is one stream's share of a write: its HEADERS (when it is being opened) and the body
// bytes [off, off+n) that the send windows allowed. It is built under Conn.mu and written
// without it, so it copies the stream id: a failed request may be reset for another attempt
// meanwhile (its fields and body do not change).
type op struct {
	s       *stream
	id      uint32
	headers bool
	off, n  int
}

// writeLoop is the connection's writer: on each wake-up it writes everything that is ready,
// many requests per TLS write, until nothing is left; every ping interval it checks the
// connection is alive.
func (c *Conn) writeLoop(ping time.Duration) {
	t := time.NewTicker(ping)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			if err := c.checkPing(); err != nil {
				c.fail(err)
				return
			}
		case <-c.wake:
			runtime.Gosched() // let the goroutines that are ready queue their requests too
		}
		if err := c.flush(); err != nil {
			c.fail(connErr("write", err))
			return
		}
	}
}

// flush writes batches until no frame is ready.
func (c *Conn) flush() error {
	for {
		c.wbuf = c.wbuf[:0]
		c.fill()
		if len(c.wbuf) == 0 {
			return nil
		}
		_ = c.tc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.tc.Write(c.wbuf); err != nil {
			return err
		}
	}
}

// fill builds the next batch in c.wbuf: control frames first, then the DATA that window
// updates unblocked, then new streams as far as MAX_CONCURRENT_STREAMS allows.
func (c *Conn) fill() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.wbuf = append(c.wbuf, c.ctrl...)
	c.ctrl = c.ctrl[:0]
	if c.newTable {
		c.enc.setMaxSize(c.tableMin) // a shrink and a regrowth since the last batch: both
		c.enc.setMaxSize(c.tableSize)
		c.newTable = false
	}
	batch := c.unblockLocked(c.batch[:0])
	batch = c.openLocked(batch)
	frameSize := c.frameSize
	c.mu.Unlock()
	for i := range batch {
		c.writeOp(&batch[i], frameSize)
		batch[i] = op{}
	}
	c.batch = batch[:0]
}

// unblockLocked adds the body bytes of blocked streams that the windows now allow.
func (c *Conn) unblockLocked(batch []op) []op {
	kept := c.blocked[:0]
	for _, s := range c.blocked {
		if o := c.reserveLocked(s); o.n > 0 {
			batch = append(batch, o)
		}
		if s.sent < len(s.body) {
			kept = append(kept, s)
		}
	}
	clear(c.blocked[len(kept):])
	c.blocked = kept
	return batch
}

// openLocked assigns stream ids to queued requests while the server allows more streams and
// the batch is not too large.
func (c *Conn) openLocked(batch []op) []op {
	n := 0
	for ; n < len(c.queue) && len(c.streams) < c.maxActive && len(batch) < maxBatch/512; n++ {
		if c.nextID > c.maxID {
			c.goingAway = true // ids exhausted: Transport dials a new connection
			break
		}
		s := c.queue[n]
		s.queued, s.id, s.sendWin, s.recvWin = false, c.nextID, c.peerInit, defaultWindow
		c.nextID += 2
		c.streams[s.id] = s
		o := c.reserveLocked(s)
		o.headers = true
		batch = append(batch, o)
		if s.sent < len(s.body) {
			c.blocked = append(c.blocked, s)
		}
	}
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	if c.goingAway {
		err := fmt.Errorf("stream ids exhausted: %w", ErrConnClosed)
		c.failQueueLocked(err)
		if len(c.streams) == 0 {
			c.failLocked(err)
		}
	}
	return batch
}

// reserveLocked takes as many of s's unsent body bytes as both send windows allow.
func (c *Conn) reserveLocked(s *stream) op {
	n := int64(len(s.body) - s.sent)
	n = min(n, s.sendWin, c.sendWin)
	if n < 0 {
		n = 0
	}
	o := op{s: s, id: s.id, off: s.sent, n: int(n)}
	s.sent += int(n)
	s.sendWin -= n
	c.sendWin -= n
	return o
}

// writeOp appends the frames of o to c.wbuf.
func (c *Conn) writeOp(o *op, frameSize int) {
	s := o.s
	last := o.off+o.n == len(s.body)
	if o.headers {
		c.writeHeaders(o.id, s.fields, len(s.body) == 0, frameSize)
	}
	for off, end := o.off, o.off+o.n; off < end; {
		n := min(end-off, frameSize)
		var flags http2.Flags
		if last && off+n == end {
			flags = http2.FlagDataEndStream
		}
		c.wbuf = appendFrameHeader(c.wbuf, n, http2.FrameData, flags, o.id)
		c.wbuf = append(c.wbuf, s.body[off:off+n]...)
		off += n
	}
}

// writeHeaders encodes the header fields of stream id and appends them as HEADERS and
// CONTINUATION frames.
func (c *Conn) writeHeaders(id uint32, fields []hpack.HeaderField, endStream bool, frameSize int) {
	c.hbuf = c.enc.appendBlock(c.hbuf[:0], fields)
	block := c.hbuf
	typ, flags := http2.FrameHeaders, http2.Flags(0)
	if endStream {
		flags = http2.FlagHeadersEndStream
	}
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), frameSize)
		f := flags
		if n == len(block) {
			f |= http2.FlagHeadersEndHeaders // same bit as CONTINUATION's END_HEADERS
		}
		c.wbuf = appendFrameHeader(c.wbuf, n, typ, f, id)
		c.wbuf = append(c.wbuf, block[:n]...)
		block = block[n:]
		typ, flags = http2.FrameContinuation, 0
	}
}

// checkPing runs every ping interval: it fails the connection if the last PING went
// unanswered, and sends one if no frame arrived since the last check.
func (c *Conn) checkPing() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readSeen.Swap(false) {
		c.pingAcked.Store(true)
		return nil
	}
	if !c.pingAcked.Load() {
		return fmt.Errorf("no PING answer within the ping interval: %w", ErrConnClosed)
	}
	c.pingAcked.Store(false)
	c.ctrl = appendPing(c.ctrl, false, pingData)
	c.signal()
	return nil
}

// pingData is the payload of our PINGs.
var pingData = [8]byte{'o', 'f', 'f', 'p', 'u', 's', 'h', 0}

func appendFrameHeader(b []byte, length int, typ http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags),
		byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id))
}

func appendSetting(b []byte, id http2.SettingID, v uint32) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(id))
	return binary.BigEndian.AppendUint32(b, v)
}

func appendRSTStream(b []byte, id uint32, code http2.ErrCode) []byte {
	b = appendFrameHeader(b, 4, http2.FrameRSTStream, 0, id)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

func appendWindowUpdate(b []byte, id uint32, incr uint32) []byte {
	b = appendFrameHeader(b, 4, http2.FrameWindowUpdate, 0, id)
	return binary.BigEndian.AppendUint32(b, incr)
}

func appendPing(b []byte, ack bool, data [8]byte) []byte {
	var flags http2.Flags
	if ack {
		flags = http2.FlagPingAck
	}
	b = appendFrameHeader(b, 8, http2.FramePing, flags, 0)
	return append(b, data[:]...)
}

func appendGoAway(b []byte, lastID uint32, code http2.ErrCode) []byte {
	b = appendFrameHeader(b, 8, http2.FrameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, lastID)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}
