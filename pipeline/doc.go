// Package pipeline is the offpush worker: a Kafka consumer group that turns message events into
// APNs pushes. It is a few stages composed in one place (see Pipeline.process):
//
//	fetch loop ──bounded channel──► event workers
//	  decode (invalid → DLQ invalid_event)
//	  fan out recipients in batches of Options.BatchSize
//	    presence.Lookup            one Redis round trip per batch
//	    render decisions           skip reasons counted per device
//	    presence.Claim             dedupe + badge, one round trip per batch
//	    send with retry            shared pool of Options.Senders goroutines, backoff/v4
//	    outcome                    sent / token removed / DLQ, then presence.Done|Release
//	  finish → offsets             committed per partition, never past an unfinished event
//
// Guarantees: at-least-once from Kafka (an event's offset is committed only when every push it
// caused is finished: sent, skipped, token removed or written to the DLQ), and once per device
// through the dedupe key (message id × token) in Redis: a redelivered event skips the devices
// already pushed. Only a send in flight at a crash repeats, with the same apns-collapse-id.
//
// Infrastructure failures (Redis down, DLQ topic unwritable) are retried without end while the
// pipeline runs: the event stays unfinished, its offset is not committed, and the bounded
// channel stops the fetch loop, so the worker stops consuming instead of dropping pushes.
package pipeline
