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

	"github.com/segmentio/kafka-go"

	"offpush/config"
	"offpush/event"
	"offpush/kafkaconn"
)

// Publish is `offpush publish [--config F] [--brokers ADDR] [--topic T] [FILE|-]`: it sends one
// event per JSON line, keyed by conversation, with acks=all, lz4-compressed. Lines that are not
// valid events are refused with their line number before anything is sent, unless --raw (for
// producing test garbage), and so is a line too large for the topic on its own (see
// publishLimit). Produce requests are cut so that each batch, compressed, fits the topic's
// max.message.bytes. The Kafka connection (brokers, topic, TLS, SASL) is the kafka section of
// the configuration, as `offpush run` reads it (file, then OFFPUSH_ variables), which the
// flags override.
func Publish(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parsePublish(args, stderr)
	if err != nil {
		return err
	}
	in, name, err := openInput(f.fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	lines, err := readEvents(in, name, f.raw)
	if err != nil {
		return err
	}
	dialer, err := f.kafka.Dialer()
	if err != nil {
		return err
	}
	conn := kafkaconn.Conn{Brokers: f.kafka.Brokers, Dialer: dialer}
	tr := conn.Transport()
	defer tr.CloseIdleConnections()
	limit := publishLimit(ctx, f, tr)
	for _, l := range lines {
		if l.size > limit {
			return fmt.Errorf("%s:%d: event of %d bytes is %d bytes as a compressed record batch, over the topic's limit of %d (max.message.bytes); "+
				"leave recipients out of large group events (group membership) or raise max.message.bytes", name, l.line, len(l.msg.Value), l.size, limit)
		}
	}
	w := conn.Writer(f.kafka.Topic)
	// kafka-go measures BatchBytes before compression; the cut to the limit after compression
	// is made by sendEvents, one WriteMessages per batch.
	w.BatchSize, w.BatchBytes, w.Transport = 1000, 64<<20, tr
	defer w.Close()
	n, err := sendEvents(ctx, w, lines, limit, f.rate)
	if err != nil {
		return fmt.Errorf("produce to %s at %s (%d of %d events sent): %w", f.kafka.Topic, strings.Join(f.kafka.Brokers, ","), n, len(lines), err)
	}
	fmt.Fprintf(stdout, "published %d events to %s\n", n, f.kafka.Topic)
	return nil
}

// publishFlags are the parsed flags of publish.
type publishFlags struct {
	fs       *flag.FlagSet
	kafka    config.Kafka
	raw      bool
	rate     float64
	maxBytes int
}

// parsePublish reads the flags over the kafka section of --config.
func parsePublish(args []string, stderr io.Writer) (publishFlags, error) {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := publishFlags{fs: fs}
	cfgPath := fs.String("config", "", "offpush YAML configuration whose kafka section to use (brokers, topic, tls, sasl); OFFPUSH_ variables apply")
	brokers := fs.String("brokers", "", "Kafka bootstrap brokers, comma-separated (default kafka.brokers, 127.0.0.1:9092)")
	topic := fs.String("topic", "", "topic to produce to (default kafka.topic, im.messages)")
	fs.BoolVar(&f.raw, "raw", false, "send lines as they are, without validating them as events")
	fs.Float64Var(&f.rate, "rate", 0, "events per second at most (0: as fast as the broker takes them)")
	fs.IntVar(&f.maxBytes, "max-message-bytes", 0, "the topic's max.message.bytes (0: ask the broker, else Kafka's default 1048588)")
	var tlsOn, insecure bool
	var ca, cert, key, mech, user, pwFile string
	fs.BoolVar(&tlsOn, "tls", false, "connect with TLS (kafka.tls.enabled)")
	fs.StringVar(&ca, "tls-ca", "", "PEM roots for the brokers (kafka.tls.caFile)")
	fs.StringVar(&cert, "tls-cert", "", "PEM client certificate, with --tls-key (kafka.tls.certFile)")
	fs.StringVar(&key, "tls-key", "", "PEM client key (kafka.tls.keyFile)")
	fs.BoolVar(&insecure, "tls-insecure", false, "do not verify the brokers' certificates (kafka.tls.insecureSkipVerify)")
	fs.StringVar(&mech, "sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (kafka.sasl.mechanism)")
	fs.StringVar(&user, "sasl-username", "", "SASL user (kafka.sasl.username)")
	fs.StringVar(&pwFile, "sasl-password-file", "", "file holding the SASL password (kafka.sasl.passwordFile; or OFFPUSH_KAFKA_SASL_PASSWORD)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.rate < 0 {
		return f, fmt.Errorf("--rate: %v is negative", f.rate)
	}
	if f.maxBytes < 0 {
		return f, fmt.Errorf("--max-message-bytes: %d is negative", f.maxBytes)
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return f, err
	}
	k := cfg.Kafka
	if *brokers != "" {
		k.Brokers = splitBrokers(*brokers)
	}
	if *topic != "" {
		k.Topic = *topic
	}
	k.TLS.Enabled = k.TLS.Enabled || tlsOn || ca != "" || cert != "" || insecure
	k.TLS.CAFile = cmpOr(ca, k.TLS.CAFile)
	k.TLS.CertFile, k.TLS.KeyFile = cmpOr(cert, k.TLS.CertFile), cmpOr(key, k.TLS.KeyFile)
	k.TLS.InsecureSkipVerify = k.TLS.InsecureSkipVerify || insecure
	k.SASL.Mechanism, k.SASL.Username = cmpOr(mech, k.SASL.Mechanism), cmpOr(user, k.SASL.Username)
	if pwFile != "" {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return f, fmt.Errorf("--sasl-password-file: %w", err)
		}
		k.SASL.Password = strings.TrimRight(string(b), "\r\n")
	}
	if len(k.Brokers) == 0 {
		return f, errors.New("--brokers: no Kafka brokers (set --brokers or kafka.brokers)")
	}
	f.kafka = k
	return f, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func splitBrokers(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
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

// readEvents reads JSON lines into Kafka messages keyed by conversation, each with its line
// number and its size as a record batch of its own, compressed.
func readEvents(r io.Reader, name string, raw bool) ([]eventLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []eventLine
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		value := bytes.Clone(b)
		m, err := event.Decode(value)
		var msg kafka.Message
		switch {
		case err == nil:
			msg = kafka.Message{Key: []byte(m.Key()), Value: value}
		case raw:
			msg = kafka.Message{Value: value}
		default:
			return nil, fmt.Errorf("%s:%d: %w (use --raw to send it anyway)", name, line, err)
		}
		size, err := batchSize(msg)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, eventLine{line: line, msg: msg, size: size})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, errors.New("no events in " + name)
	}
	return out, nil
}
