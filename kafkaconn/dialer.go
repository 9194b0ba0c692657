// Package kafkaconn builds the kafka-go dialer of the kafka configuration section (TLS and
// SASL), so that the worker and offpush replay connect the same way.
package kafkaconn

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"offpush/config"
)

// Dialer returns the dialer for c's TLS and SASL settings; nil when neither is configured.
func Dialer(c config.Kafka) (*kafka.Dialer, error) {
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

func mechanism(c config.SASL) (sasl.Mechanism, error) {
	switch c.Mechanism {
	case "":
		return nil, nil
	case config.SASLPlain:
		return plain.Mechanism{Username: c.Username, Password: c.Password}, nil
	case config.SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, c.Username, c.Password)
	case config.SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, c.Username, c.Password)
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: unknown %q", c.Mechanism)
}
