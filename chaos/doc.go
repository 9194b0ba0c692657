// Package chaos is offpush's fault harness: it runs the real `offpush run` binary as child
// processes against an in-process Kafka (kfake, hosted by the harness so that it outlives
// worker restarts and can be made unreachable), a real redis-server process with an
// append-only file (so that it can be killed and come back with its data, or be wiped) or a
// Redis Cluster of 3 masters with a replica each (so that a master can be killed) and the
// APNs simulator process (`offpush apns-sim`) behind a TCP proxy that can reset every
// connection. A generated workload of c2c and group events, whose outcome per (message,
// device) is known in advance, flows through while a scenario injects a fault.
//
// At the end of each scenario the harness draws up a Ledger from the simulator's deliveries
// (by apns-collapse-id × token), the dead-letter topic and the workers' /metrics: expected,
// delivered, skipped with their reasons, DLQ, duplicates and lost. Every scenario asserts
// that nothing is lost and that a push delivered twice was in flight (claimed but not
// finished) at a kill or a rebalance and carried the same apns-collapse-id and badge both times.
//
// The scenarios are the tests of this package. Short ones run in `make test`; the others
// need OFFPUSH_CHAOS=1 (`make chaos` sets it) and are skipped otherwise. TestMain builds the
// offpush binary once (or uses OFFPUSH_BIN) and prints the ledger table of every scenario
// that ran.
package chaos
