// Package bench is `offpush bench`: a load test of the whole pipeline in one process tree,
// with the worker's CPU measured apart from everything it talks to.
//
// # Processes
//
//	offpush bench (this process)     the worker, wired as offpush run wires it
//	                                 (app.NewWorker on the default configuration); and,
//	                                 before and after its window, seeding, the baseline
//	                                 and the report
//	├─ offpush bench --child kafka   kfake, the in-process Kafka (unless --brokers)
//	├─ offpush bench --child produce the event producer (kafka-go Writer)
//	├─ offpush bench --child sim     the APNs simulator (apnssim.Command)
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
// window; the first APNs connections are inside it. Peak RSS is this process's peak resident
// set (VmHWM) from the worker's start to the window's end, reset before each window so that
// it is not an earlier window's (on Linux; elsewhere getrusage's Maxrss, the process's peak);
// what earlier windows left in the process (a few MB) still counts.
// The GC line is read from runtime/metrics: the garbage collector's share of the worker CPU
// over the window (the runtime's estimate of its assists, background marking and pauses, in
// processor time: on an oversubscribed machine it overstates the share of real CPU; the CPU
// profile gives that), its cycles, and the live heap, heap goal and goroutine stacks at the
// window's end. --cpuprofile profiles the window; --memprofile writes the allocation profile
// at its start and end, to compare with pprof's -diff_base.
//
// --repeat N runs everything above N times, each run on an environment of its own (Kafka,
// Redis and the simulator started anew, the same workload), and reports every figure's
// median, each taken on its own (a ratio's median is the median of the ratios measured within
// each run), then each run's main figures with their range. The JSON is then {"median":
// Result, "runs": [Result, …]}. On a shared machine one run can be disturbed by +50%; the
// median of 3 or 5 is the figure to compare, and the range says how far to trust it.
//
// Without --rate every event is published before the worker starts, so the latency figures
// measure the backlog (how long the last events waited), not the pipeline's latency. With
// --rate, event 0 is published first to open the window and the producer then publishes the
// others at that rate; each event's id and sentAt carry its publish time in milliseconds, the
// simulator records when it received each push, and latency is the difference, per push,
// joined by apns-collapse-id (= the message id). Percentiles are given over all pushes, over
// the pushes of one-to-one events (c2c_*: no fan-out, what is left is pickup and queueing) and
// over those of group events (group_*), with group_pushes_per_s: the group pushes over the
// time from the first of them to reach the simulator to the last.
//
// Redis's retained memory is INFO memory's used_memory less mem_clients_normal (the client
// connections' buffers, which come and go) read before the worker starts and after it has
// stopped, so that no push is in flight: redis_bytes_per_push is the growth per push sent,
// what the pipeline leaves in Redis (its dedupe records). On small runs the allocator's own
// movements outweigh it.
//
// # APNs round trip
//
// The simulator answers at once unless --apns-rtt (and --apns-rtt-jitter: a uniform random
// delay in [0, jitter) added per answer) makes it wait like Apple's servers, which are a
// network round trip away. The worker's figures are then measured at that round trip: with
// the pipeline's in-flight limit it bounds the pushes per second. --compare-rtt first runs the
// same workload's window at 0 ms (its own run id, hence message ids and dedupe records, topic
// and consumer group; the bench's own Redis is flushed and seeded again after it, a --redis
// one only seeded again), and reports it as zero_rtt_* with ratio_rtt_pushes and ratio_rtt_cpu
// (at the round trip / at 0 ms). The baseline always runs at 0 ms, so ratio_pushes and
// ratio_cpu compare the worker at --apns-rtt with the baseline at 0 ms.
//
// # Profiles
//
// default: --events events, a --group-share of them to groups of --group-min..--group-max
// recipients, the rest one-to-one, with --foreground of the devices skipped.
//
// skip-heavy: every device is in the foreground, so nothing is sent: Kafka, decoding and
// Redis alone.
//
// hot-group: fairness under a large group's burst. Event 0 (one-to-one) opens the window;
// the producer then publishes the --hot-group-messages messages of one group of
// --hot-group-members recipients in one burst, and one-to-one events at --c2c-rate after it.
// It stops publishing them once the outcome count reaches the group's (the group pushes then
// still missing are at most the one-to-one pushes already done), and the window closes when
// every outcome of what was published is in. The one-to-one percentiles are then the latency
// of a conversation while the group fans out, and group_pushes_per_s the group's rate. The
// population (--users, default 25000 for this profile) must exceed the group.
//
// big-groups: the two forms of a large group's event. After the default windows on the
// profile's workload (--events messages, default 4, to 2 groups of --group-min..--group-max
// members, default 10000..20000, sent with recipient lists), the groups' membership is
// seeded through the Store and the same events run without recipients, then again with
// recipient lists on Redis seeded afresh; big_groups reports each form's pushes/s, peak RSS
// (VmHWM, reset before each window on Linux) and Kafka bytes per event (the event values).
//
// The baseline runs after the worker, against the same simulator: a plain sideshow/apns2
// loop — apns2.NewClient with its own x/net HTTP/2 transport (only RootCAs set, to trust
// the simulator), 256 goroutines, a payload.Payload built per push — timed and measured with
// getrusage the same way.
package bench
