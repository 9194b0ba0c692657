package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/event"
)

// Publish is `offpush publish --brokers ADDR --topic T [FILE|-]`: it sends one event per JSON
// line, keyed by conversation, with acks=all. Lines that are not valid events are refused with
// their line number before anything is sent, unless --raw (for producing test garbage).
func Publish(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic", "im.messages", "topic to produce to")
	raw := fs.Bool("raw", false, "send lines as they are, without validating them as events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	in, name, err := openInput(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	msgs, err := readEvents(in, name, *raw)
	if err != nil {
		return err
	}
	w := &kafka.Writer{
		Addr: kafka.TCP(strings.Split(*brokers, ",")...), Topic: *topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 1000,
		// A 100k-recipient event is ~1.5 MB raw: compressed it fits Kafka's default 1 MiB limit.
		Compression: kafka.Lz4, BatchBytes: 16 << 20,
	}
	defer w.Close()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("produce to %s at %s: %w", *topic, *brokers, err)
	}
	fmt.Fprintf(stdout, "published %d events to %s\n", len(msgs), *topic)
	return nil
}

func openInput(arg string, stdin io.Reader) (io.ReadCloser, string, error) {
	if arg == "" || arg == "-" {
		return io.NopCloser(stdin), "stdin", nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, "", err
	}
	return f, arg, nil
}

// readEvents reads JSON lines into Kafka messages keyed by conversation.
func readEvents(r io.Reader, name string, raw bool) ([]kafka.Message, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var msgs []kafka.Message
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		value := bytes.Clone(b)
		m, err := event.Decode(value)
		switch {
		case err == nil:
			msgs = append(msgs, kafka.Message{Key: []byte(m.Key()), Value: value})
		case raw:
			msgs = append(msgs, kafka.Message{Value: value})
		default:
			return nil, fmt.Errorf("%s:%d: %w (use --raw to send it anyway)", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(msgs) == 0 {
		return nil, errors.New("no events in " + name)
	}
	return msgs, nil
}
