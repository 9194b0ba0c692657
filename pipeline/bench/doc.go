// Package bench is `offpush bench`: a load test of the whole pipeline in one process tree,
// with the worker's CPU measured apart from everything it talks to.
//
// # Processes
//
//	offpush bench (this process)     the worker: pipeline.New + Run, apns.Pool, go-redis,
//	                                 kafka-go; and, before and after its window, seeding,
//	                                 the baseline and the report
//	├─ offpush bench --child kafka   kfake, the in-process Kafka (unless --brokers)
//	├─ offpush bench --child produce the event producer (kafka-go Writer)
//	├─ offpush bench --child sim     the APNs simulator (apnstest.Command)
//	└─ redis-server                  throwaway, --save "" --appendonly no (unless --redis)
//
// Children are the current binary re-executed (os.Executable) with a hidden --child flag;
// a test binary runs them from TestMain through RunChild. They stop when their stdin closes,
// so they do not outlive the bench, and on Linux they also get SIGKILL when it dies.
//
// # Measurement
//
// The worker's window opens when the pipeline fetched its first event (Pipeline.Ready) and
// closes when the pipeline's own counters, read exactly through an OpenTelemetry ManualReader,
// account for every device of every event: offpush.pushes summed over all outcomes (sent,
// skipped, token_removed, dead_letter) equals recipients × devices per user. Worker CPU is
// getrusage(RUSAGE_SELF) user+system time over that window: this process only, since Kafka,
// the producer, Redis and the simulator are children (their CPU is read from /proc and
// reported apart). Group join and connection set-up before the first event are outside the
// window; the first APNs connections are inside it. Peak RSS is getrusage's Maxrss at the end
// of the window, before the baseline runs.
//
// Without --rate every event is published before the worker starts, so the latency figures
// measure the backlog (how long the last events waited), not the pipeline's latency. With
// --rate, event 0 is published first to open the window and the producer then publishes the
// others at that rate; each event's id and sentAt carry its publish time in milliseconds, the
// simulator records when it received each push, and latency is the difference, per push,
// joined by apns-collapse-id (= the message id).
//
// The baseline runs after the worker, against the same simulator: a plain sideshow/apns2
// loop — apns2.NewClient with its own x/net HTTP/2 transport (only RootCAs set, to trust
// the simulator), 256 goroutines, a payload.Payload built per push — timed and measured with
// getrusage the same way.
package bench
