package h2

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// readLoop is the connection's reader: it hands every frame to its handler until the
// connection fails.
func (c *Conn) readLoop() {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.fail(connErr("read", err))
			return
		}
		if !c.readSeen.Load() {
			c.readSeen.Store(true)
		}
		if err := c.handle(f); err != nil {
			c.fail(err)
			return
		}
	}
}

func (c *Conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		c.hdr.start(f.StreamID, f.StreamEnded())
		return c.onHeaderFragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.ContinuationFrame:
		return c.onHeaderFragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.RSTStreamFrame:
		c.onReset(f)
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		return c.onSettings(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.PingFrame:
		c.onPing(f)
	case *http2.GoAwayFrame:
		c.onGoAway(f)
	case *http2.PushPromiseFrame:
		return fmt.Errorf("server sent PUSH_PROMISE with push disabled: %w", ErrConnClosed)
	}
	return nil // PRIORITY and unknown frame types are ignored
}

// sendCtrl appends a control frame for the writer.
func (c *Conn) sendCtrl(frame func([]byte) []byte) {
	c.mu.Lock()
	c.ctrl = frame(c.ctrl)
	c.mu.Unlock()
	c.signal()
}

// headerBlock collects the fields of the header block being read (HEADERS and its
// CONTINUATIONs).
type headerBlock struct {
	id      uint32
	ended   bool // the HEADERS frame had END_STREAM
	fields  []hpack.HeaderField
	size    int
	tooLong bool // beyond maxHeaderList: the stream is reset
}

func (h *headerBlock) start(id uint32, ended bool) {
	clear(h.fields)
	*h = headerBlock{id: id, ended: ended, fields: h.fields[:0]}
}

// add is the hpack decoder's emit function.
func (h *headerBlock) add(f hpack.HeaderField) {
	if h.size += int(f.Size()); h.size > maxHeaderList {
		h.tooLong = true
		return
	}
	h.fields = append(h.fields, f)
}

// onHeaderFragment decodes a HEADERS or CONTINUATION fragment; a decoding error breaks the
// connection's HPACK state, so it fails the connection (RFC 9113 §4.3).
func (c *Conn) onHeaderFragment(frag []byte, end bool) error {
	if _, err := c.dec.Write(frag); err != nil {
		return fmt.Errorf("h2: decode response headers: %w: %w", ErrConnClosed, err)
	}
	if !end {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return fmt.Errorf("h2: decode response headers: %w: %w", ErrConnClosed, err)
	}
	c.onHeaders(&c.hdr)
	return nil
}

// onHeaders takes the response headers (or trailers) of a stream.
func (c *Conn) onHeaders(h *headerBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[h.id]
	if s == nil {
		return // cancelled meanwhile
	}
	if h.tooLong {
		c.abortLocked(s, h.ended, errors.New("h2: response headers too long"))
		return
	}
	if s.status == 0 {
		v := pseudo(h.fields, ":status")
		status, err := strconv.Atoi(v)
		switch {
		case err != nil || status < 100 || status > 999:
			c.abortLocked(s, h.ended, fmt.Errorf("h2: response with :status %q", v))
			return
		case status < 200:
			return // informational (100 Continue): the final headers follow
		}
		s.status, s.header = status, responseHeader(h.fields)
	}
	if h.ended {
		c.endLocked(s)
	}
}

func pseudo(fields []hpack.HeaderField, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// responseHeader is the http.Header of a header block's regular fields; the values share
// one backing array.
func responseHeader(fields []hpack.HeaderField) http.Header {
	h := make(http.Header, len(fields))
	vals := make([]string, len(fields))
	for i, hf := range fields {
		if hf.IsPseudo() {
			continue
		}
		k := canonicalName(hf.Name)
		if old := h[k]; old != nil {
			h[k] = append(old, hf.Value)
			continue
		}
		vals[i] = hf.Value
		h[k] = vals[i : i+1 : i+1]
	}
	return h
}

// endLocked completes s: the server ended its side. Unsent body bytes are withdrawn with
// RST_STREAM (RFC 9113 §8.1: a response may come before the request is complete).
func (c *Conn) endLocked(s *stream) {
	if s.sent < len(s.body) {
		c.ctrl = appendRSTStream(c.ctrl, s.id, http2.ErrCodeNo)
		c.signal()
	}
	c.closeStreamLocked(s)
	c.finishLocked(s, nil)
}

// abortLocked fails s with err, resetting it unless the server has closed it already.
func (c *Conn) abortLocked(s *stream, closed bool, err error) {
	if closed {
		c.closeStreamLocked(s)
		c.finishLocked(s, err)
		return
	}
	c.resetLocked(s, http2.ErrCodeProtocol, err)
}

// resetLocked fails s with err and resets it with code.
func (c *Conn) resetLocked(s *stream, code http2.ErrCode, err error) {
	c.ctrl = appendRSTStream(c.ctrl, s.id, code)
	c.signal()
	c.closeStreamLocked(s)
	c.finishLocked(s, err)
}

// onData appends a DATA frame to its stream's body and returns the bytes to both receive
// windows before half of either is used.
func (c *Conn) onData(f *http2.DataFrame) error {
	n := int64(f.Length) // padding counts too
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recvAck += n; c.recvAck > defaultWindow {
		return fmt.Errorf("h2: server overran the connection receive window: %w", ErrConnClosed)
	}
	if c.recvAck >= recvWindowRefresh {
		c.ctrl = appendWindowUpdate(c.ctrl, 0, uint32(c.recvAck))
		c.recvAck = 0
		c.signal()
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return nil // cancelled or reset meanwhile
	}
	if s.status == 0 || len(s.data)+len(f.Data()) > maxResponseBody || n > s.recvWin {
		c.resetLocked(s, http2.ErrCodeProtocol, fmt.Errorf("h2: bad response DATA on stream %d", s.id))
		return nil
	}
	s.data = append(s.data, f.Data()...)
	s.recvWin -= n
	if f.StreamEnded() {
		c.endLocked(s)
		return nil
	}
	if s.recvAck += n; s.recvAck >= recvWindowRefresh {
		c.ctrl = appendWindowUpdate(c.ctrl, s.id, uint32(s.recvAck))
		s.recvWin += s.recvAck
		s.recvAck = 0
		c.signal()
	}
	return nil
}

// onReset fails a stream the server reset. REFUSED_STREAM means it was not processed, so
// Transport may send it again.
func (c *Conn) onReset(f *http2.RSTStreamFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[f.StreamID]
	if s == nil {
		return
	}
	var err error = fmt.Errorf("h2: stream reset by the server: %v", f.ErrCode)
	if f.ErrCode == http2.ErrCodeRefusedStream {
		err = unprocessedError{err}
	}
	c.closeStreamLocked(s)
	c.finishLocked(s, err)
}

// onSettings applies the server's SETTINGS and queues their ACK in the same critical section,
// ahead of any stream the writer opens under them: a peer may treat a stream opened under a
// raised limit it has not seen acknowledged as a protocol error (nghttp2 does).
func (c *Conn) onSettings(f *http2.SettingsFrame) error {
	c.mu.Lock()
	defer c.signal() // after the unlock: the writer finds the ACK and the new limits together
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(st http2.Setting) error {
		if err := st.Valid(); err != nil {
			return fmt.Errorf("h2: server SETTINGS: %w", err)
		}
		switch st.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxActive = int(min(st.Val, unboundedStreams))
		case http2.SettingInitialWindowSize:
			c.setInitialWindowLocked(int64(st.Val))
		case http2.SettingMaxFrameSize:
			c.frameSize = int(st.Val)
		case http2.SettingHeaderTableSize:
			v := min(st.Val, defaultTableSize)
			if !c.newTable || v < c.tableMin {
				c.tableMin = v
			}
			c.tableSize, c.newTable = v, true
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.ctrl = appendFrameHeader(c.ctrl, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
	return nil
}

// setInitialWindowLocked changes the send window of every open stream by the difference
// (RFC 9113 §6.9.2).
func (c *Conn) setInitialWindowLocked(v int64) {
	delta := v - c.peerInit
	c.peerInit = v
	for _, s := range c.streams {
		s.sendWin += delta
	}
	if delta > 0 {
		c.signal()
	}
}

// onWindowUpdate grows a send window; the writer sends what it unblocked.
func (c *Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	incr := int64(f.Increment)
	if f.StreamID == 0 {
		if c.sendWin += incr; c.sendWin > maxWindow {
			return fmt.Errorf("h2: connection send window overflow: %w", ErrConnClosed)
		}
	} else if s := c.streams[f.StreamID]; s != nil {
		if s.sendWin += incr; s.sendWin > maxWindow {
			c.resetLocked(s, http2.ErrCodeFlowControl, fmt.Errorf("h2: stream %d send window overflow", s.id))
			return nil
		}
	}
	if len(c.blocked) > 0 {
		c.signal()
	}
	return nil
}

// onPing answers the server's PINGs and notes the answers to ours.
func (c *Conn) onPing(f *http2.PingFrame) {
	if f.IsAck() {
		if f.Data == pingData {
			c.pingAcked.Store(true)
		}
		return
	}
	data := f.Data
	c.sendCtrl(func(b []byte) []byte { return appendPing(b, true, data) })
}

// onGoAway stops new streams on the connection and fails the ones the server will not
// process; after a graceful GOAWAY (NO_ERROR) the others finish, then the connection closes.
// A GOAWAY with an error code ends the connection at once (RFC 9113 §5.4.1: its sender
// closes it), failing the streams it names as received: they may have been processed, and
// waiting for answers that will not come would hold them until their deadlines.
func (c *Conn) onGoAway(f *http2.GoAwayFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goingAway = true
	err := fmt.Errorf("GOAWAY %v from the server: %w", f.ErrCode, ErrConnClosed)
	for id, s := range c.streams {
		if id > f.LastStreamID {
			c.closeStreamLocked(s)
			c.finishLocked(s, unprocessedError{err})
		}
	}
	c.failQueueLocked(err)
	if len(c.streams) == 0 || f.ErrCode != http2.ErrCodeNo {
		c.failLocked(err)
	}
}

// failQueueLocked fails the requests not yet sent; Transport sends them on a new connection.
func (c *Conn) failQueueLocked(err error) {
	for _, s := range c.queue {
		s.queued = false
		c.finishLocked(s, unprocessedError{err})
	}
	clear(c.queue)
	c.queue = c.queue[:0]
}
