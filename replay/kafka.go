package replay

import (
	"context"
	"errors"
	"fmt"
	"offpush/kafkaconn"
	"time"

	"github.com/segmentio/kafka-go"
)

// conn is how the run reaches Kafka.
func (o Options) conn() kafkaconn.Conn { return kafkaconn.Conn{Brokers: o.Brokers, Dialer: o.Dialer} }

// newReader reads the DLQ as a member of the replay group. Offsets are committed by the run,
// synchronously, after each batch is acknowledged. Kafka errors (retried by the reader) go to
// note.
func newReader(o Options, note func(string)) *kafka.Reader {
	return o.conn().GroupReader(o.DLQTopic, o.GroupID, 10*time.Second, batchSize, func(detail string) { note("kafka: " + detail) })
}

// newWriter publishes replays with acks=all, keyed like the originals so that a conversation's
// events stay on one partition.
func newWriter(o Options) *kafka.Writer {
	w := o.conn().Writer(o.Topic)
	w.BatchSize = batchSize
	return w
}

// errIdle is next's answer when no record came within the idle time.
var errIdle = errors.New("idle")

// fetcher fetches DLQ records in its own goroutine so that the run can take whatever is
// already fetched as one batch. After ch is closed, err says why.
type fetcher struct {
	ch     chan kafka.Message
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

func startFetcher(ctx context.Context, rd *kafka.Reader) *fetcher {
	ctx, cancel := context.WithCancel(ctx)
	f := &fetcher{ch: make(chan kafka.Message, batchSize), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer close(f.ch)
		for {
			m, err := rd.FetchMessage(ctx)
			if err != nil {
				f.err = err
				return
			}
			select {
			case f.ch <- m:
			case <-ctx.Done():
				f.err = ctx.Err()
				return
			}
		}
	}()
	return f
}

// stop ends the fetch goroutine and waits for it.
func (f *fetcher) stop() {
	f.cancel()
	<-f.done
}

// next waits up to idle for a record, then returns it with every record already fetched, at
// most batchSize in all.
func (f *fetcher) next(ctx context.Context, idle time.Duration) ([]kafka.Message, error) {
	timer := time.NewTimer(idle)
	defer timer.Stop()
	var batch []kafka.Message
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, errIdle
	case m, ok := <-f.ch:
		if !ok {
			return nil, f.fetchErr()
		}
		batch = append(batch, m)
	}
	for len(batch) < batchSize {
		select {
		case m, ok := <-f.ch:
			if !ok {
				return batch, nil // the error comes with the next call
			}
			batch = append(batch, m)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// fetchErr is why the fetch goroutine stopped; it is set before ch is closed.
func (f *fetcher) fetchErr() error { return fmt.Errorf("fetch from the DLQ: %w", f.err) }
