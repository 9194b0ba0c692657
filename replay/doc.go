// Package replay is `offpush replay`: it reads the dead-letter topic as its own
// consumer group, selects records with filters and re-publishes them to the events topic, where
// the pipeline treats them as fresh events.
//
// # What a replay publishes
//
// A replayed record keeps the dead letter's key (the conversation) and value byte for byte: the
// event narrowed to the one recipient that failed, or the original bytes of an invalid event.
// Its only headers are offpush-replays, one more than the dead letter's, and the W3C
// traceparent of the original. The other offpush-* headers describe a failure and are dropped:
// for the pipeline the event is new, and if it fails again its new dead letter carries the
// incremented offpush-replays, so a record that keeps coming back is easy to spot.
//
// # At-least-once, resumable
//
// Records are handled in batches. A batch is re-published with acks=all and only then are its
// offsets committed for the group (default offpush-replay), so a replay that is interrupted or
// fails resumes after the last acknowledged batch, and a crash between the publish and the
// commit publishes some records twice. That is harmless: the pipeline's dedupe key (message id ×
// device) skips devices already pushed. --dry-run commits nothing, so a real replay can follow.
//
// The group's offset is one position per partition: every record a run looks at is committed,
// including those its filters skip. Records skipped by one run's filters are therefore not seen
// again by a later run of the same group; replay another selection of already scanned records
// with another --group (a new group starts at the oldest record the topic still holds).
//
// # When a run stops
//
// At start, Run reads each DLQ partition's end offset (ListOffsets), the group's committed
// offsets (OffsetFetch) and the log start offsets. A partition is caught up once the group has
// consumed every record below the end offset it had at start; a run stops when all partitions
// are caught up, so it needs no timeout in the normal case and never chases its own tail: a
// replayed event that fails again lands in the DLQ after the end offsets and waits for the next
// run. Records past the end offset that are fetched anyway are neither handled nor committed.
// Idle (default 30s) is the fallback for partitions that cannot reach their end offset: another
// member of the same group owns them, or the end is a transaction marker that is never
// delivered; it also bounds a run whose brokers went away, whose errors are written as notes.
// A run also stops after Max replays, and with an error when its context is cancelled: a batch
// Kafka has acknowledged is still committed, one whose publish was cut short is not (and is
// replayed by the next run).
//
// # Refusing invalid events
//
// Records whose reason is invalid_event hold bytes that failed event.Decode; re-publishing them
// only makes them come back. They are replayed only when --reason invalid_event is given
// explicitly (after a decoder fix, say); otherwise they are skipped, counted in SkippedFilter
// and in Refused, and the summary says how to include them.
//
// # Counting
//
// Every record read below the end offsets is counted once: Read = Replayed + SkippedFilter +
// SkippedTooOld + Invalid. Invalid records are not offpush dead letters (no offpush-reason
// header) or, for reasons other than invalid_event, hold a value that is not a valid event.
// Filters are applied in this order: reason, --since/--until (the offpush-failed-at header,
// else the record's timestamp; Since inclusive, Until exclusive), --max-age, --user (the
// recipient of the narrowed event).
package replay
