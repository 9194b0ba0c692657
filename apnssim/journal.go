package apnssim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// journalChunk is the size of a journal chunk; a line never straddles two.
const journalChunk = 1 << 20

// journal keeps accepted notifications as their JSON lines in large append-only chunks: no
// pointers per notification for the garbage collector to scan, no slice regrowth copying
// everything kept, and GET /sim/deliveries writes the chunks as they are. Bytes once appended
// never change, so a snapshot of the chunk slices can be read without the lock.
type journal struct {
	chunks [][]byte
	lines  int
}

func (j *journal) add(line []byte) {
	n := len(j.chunks)
	if n == 0 || cap(j.chunks[n-1])-len(j.chunks[n-1]) < len(line) {
		j.chunks = append(j.chunks, make([]byte, 0, max(journalChunk, len(line))))
		n++
	}
	j.chunks[n-1] = append(j.chunks[n-1], line...)
	j.lines++
}

// snapshot is the chunks as they are now, each cut at its current length.
func (j *journal) snapshot() [][]byte {
	return append([][]byte(nil), j.chunks...)
}

func writeChunks(w io.Writer, chunks [][]byte) error {
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return nil
}

// decodeChunks parses the lines of chunks back into Deliveries.
func decodeChunks(chunks [][]byte) ([]Delivery, error) {
	var out []Delivery
	for _, c := range chunks {
		for len(c) > 0 {
			i := bytes.IndexByte(c, '\n')
			var d Delivery
			if err := json.Unmarshal(c[:i], &d); err != nil {
				return out, fmt.Errorf("decode kept delivery %d: %w", len(out), err)
			}
			out = append(out, d)
			c = c[i+1:]
		}
	}
	return out, nil
}
