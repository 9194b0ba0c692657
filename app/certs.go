package app

import (
	"context"
	"log/slog"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"offpush/apns"
	"offpush/config"
)

// watchCertificates exports the days left on each certificate as offpush.apns.certificate.expiry
// and warns at startup about those that expire within config.ExpiryWarning.
// Token-auth keys do not expire and are not reported.
func watchCertificates(mp metric.MeterProvider, log *slog.Logger, certs []apns.Certificate, now func() time.Time) error {
	for _, c := range certs {
		if c.NotAfter.IsZero() {
			continue
		}
		if left := c.NotAfter.Sub(now()); left < config.ExpiryWarning {
			log.Warn("APNs certificate expires soon: renew it and update the p12", "busiId", c.ID,
				"topic", c.Topic, "notAfter", c.NotAfter.Format(time.RFC3339), "daysLeft", math.Floor(left.Hours()/24))
		}
	}
	_, err := mp.Meter("offpush/apns").Float64ObservableGauge("offpush.apns.certificate.expiry",
		metric.WithDescription("Days until the APNs client certificate expires (negative: expired)."),
		metric.WithUnit("d"),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			for _, c := range certs {
				if !c.NotAfter.IsZero() {
					o.Observe(c.NotAfter.Sub(now()).Hours()/24, metric.WithAttributes(attribute.Int("busi_id", c.ID)))
				}
			}
			return nil
		}))
	return err
}
