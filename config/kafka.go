package config

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Dialer is the kafka-go dialer of c's TLS and SASL settings, the one every Kafka client of
// offpush (worker, replay, publish) connects with; nil when neither is configured.
func (c Kafka) Dialer() (*kafka.Dialer, error) {
	tlsCfg, err := c.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("kafka.tls: %w", err)
	}
	mech, err := mechanism(c.SASL)
	if err != nil {
		return nil, err
	}
	if tlsCfg == nil && mech == nil {
		return nil, nil
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tlsCfg, SASLMechanism: mech}, nil
}

func mechanism(c SASL) (sasl.Mechanism, error) {
	switch c.Mechanism {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: c.Username, Password: c.Password}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, c.Username, c.Password)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, c.Username, c.Password)
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: unknown %q", c.Mechanism)
}
