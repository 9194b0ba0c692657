// Package pipeline is the offpush worker: a Kafka consumer group that turns message events into
// APNs pushes. It is a few stages composed in one place (Pipeline.Run and Pipeline.process):
//
//	fetch loop ──► scheduler (key order, in-flight budget) ──► one goroutine per running event
//	  decode (invalid → DLQ invalid_event)
//	  fan out recipients in batches of Options.BatchSize, FanoutWindow batches at once
//	    Store.Lookup               merged with other events' lookups: one Redis pipeline
//	    render decisions           skip reasons counted per device
//	    Store.Claim                dedupe + badge, merged like the lookup
//	    Sender.Send with retry     one goroutine per push; the APNs pool bounds what is in flight
//	    outcome                    sent / token removed / DLQ, then Store.Done|Release (merged)
//	  finish → offsets             committed per partition, never past an unfinished event
//
// # Ordering and fairness
//
// Only a conversation (the Kafka key) is ordered: the scheduler runs the events of one key one
// after another, in fetch order, and the events of different keys at once. A device is in one
// batch of an event, so it gets a conversation's pushes in message order. Nothing else waits
// for a key: the fetch loop admits events while the in-flight budget allows (MaxEvents events
// and MaxBytes of their values, over all keys) and waits only when the budget is spent, never
// for one key's backlog.
//
// Sends are asynchronous: an event's goroutine starts its batch's pushes and waits for them
// once, so what is in flight is bounded by the APNs pool (apns.Options.InFlight per
// certificate, and each connection's SETTINGS_MAX_CONCURRENT_STREAMS), not by a number of
// workers. Waiting for APNs holds no slot that other work needs.
//
// Small conversations first: an event with more than LargeEvent recipients is large. Its
// batches each hold a slot of the bulk lane (BulkBatches over the whole worker) and its pushes
// are sent in the apns.Bulk lane, which takes a free APNs in-flight slot only when no push of
// a small event (apns.Fast) waits for one. A one-to-one push therefore waits neither for a
// large group's event (another key) nor for its pushes (a lower lane).
//
// Group events without recipients (event.Message.ToMembers) go to the group's current
// members minus the sender, read from the Store (MemberStore) page by page, BatchSize members
// a page, into the same windowed fan-out: at most FanoutWindow pages are held at once, and a
// group of more than LargeEvent members (its member count, read with the first page) is
// large. A fan-out reads one version of the member list throughout (a replace does not mix
// two lists); see fanOutMembers for joins and leaves during a fan-out and after a crash.
//
// Redis calls of concurrent events are merged (coalescer): a Lookup, Claim, Done or Release
// that finds the runners of its kind busy goes out with the others queued meanwhile in one
// pipeline; a merged call that fails is retried call by call, so one unreachable slot fails
// only the events that touch it.
//
// # Guarantees
//
// At-least-once from Kafka: an event's offset is committed only when every push it caused is
// finished (sent, skipped, token removed or written to the DLQ). Once per device through the
// dedupe record (message id × token) in Redis: a redelivered event skips the devices already
// pushed. Only a send in flight at a crash repeats, with the same apns-collapse-id.
//
// Infrastructure failures (Redis down, DLQ topic unwritable) are retried without end while the
// pipeline runs: the event stays unfinished and its offset is not committed. The events stuck
// this way hold their share of the in-flight budget; once it is spent the fetch loop stops, so
// the worker stops consuming instead of dropping pushes.
package pipeline
