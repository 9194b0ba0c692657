//lint:file-ignore SA1019 apns2.NewClient builds an x/net http2.Transport; the baseline is a plain apns2 client, so it uses that transport as it comes.

package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"golang.org/x/net/http2"
)

// baseline is the plain apns2 loop's run.
type baseline struct {
	pushes     int
	start, end snapshot
}

// minBaselinePushes is the baseline's length when the worker sent fewer pushes.
const minBaselinePushes = 20000

// runBaseline sends n pushes the way a typical apns2 user does: one
// apns2.NewClient (its own x/net HTTP/2 transport; only RootCAs is set so that it trusts the
// simulator, no apns2 global is touched), many goroutines, a payload.Payload built and
// JSON-encoded per push. The tokens are the population's, so every :path differs as in the
// worker's run.
func (e *env) runBaseline(ctx context.Context, w *workload, n int) (baseline, error) {
	client := apns2.NewClient(e.cert)
	client.Host = e.simURL
	tr, ok := client.HTTPClient.Transport.(*http2.Transport)
	if !ok {
		return baseline{}, fmt.Errorf("apns2 client transport is %T, want *http2.Transport", client.HTTPClient.Transport)
	}
	tr.TLSClientConfig.RootCAs = e.simCA
	defer tr.CloseIdleConnections()

	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = w.token(i%w.Users, 0)
	}
	body := "User 1 (Group 1): " + w.text(0) // what the worker renders for a group message
	if err := pushOne(ctx, client, tokens[0], body, 1); err != nil {
		return baseline{}, fmt.Errorf("baseline warm-up: %w", err)
	}
	b := baseline{pushes: n, start: e.snapshot()}
	err := sendAll(ctx, client, tokens, body, e.cfg.baselineConcurrency)
	b.end = e.snapshot()
	return b, err
}

// sendAll pushes to every token from conc goroutines and returns the first failure.
func sendAll(ctx context.Context, client *apns2.Client, tokens []string, body string, conc int) error {
	var next, failed atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(tokens)); i = next.Add(1) - 1 {
				if err := pushOne(ctx, client, tokens[i], body, int(i%99)+1); err != nil {
					failed.Add(1)
					once.Do(func() { first = err })
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("baseline: %d of %d pushes failed, first: %w", failed.Load(), len(tokens), first)
	}
	return nil
}

func pushOne(ctx context.Context, client *apns2.Client, token, body string, badge int) error {
	p := payload.NewPayload().AlertBody(body).Badge(badge).Sound("default")
	res, err := client.PushWithContext(ctx, &apns2.Notification{
		DeviceToken: token, Topic: topic, PushType: apns2.PushTypeAlert, Payload: p,
	})
	if err != nil {
		return err
	}
	if !res.Sent() {
		return fmt.Errorf("APNs answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}
