package main

import (
	"offpush/apnssim"
	"offpush/app"
	"offpush/bench"
	"offpush/rendercmd"
	"offpush/replay"
)

func init() {
	verbs["run"] = verb{app.Run, "the worker: consume events, push to APNs, serve /metrics and health (config from --config and OFFPUSH_*)"}
	verbs["dev"] = verb{app.Dev, "the whole system in one process (in-process Kafka and Redis, APNs simulator, worker) with a demo"}
	verbs["replay"] = verb{replay.Command, "re-publish dead letters (filters: --reason, --since, --until, --user, --max, --max-age; --dry-run)"}
	verbs["bench"] = verb{bench.Command, "load test of the whole pipeline against a plain apns2 loop; prints a summary and writes JSON"}
	verbs["publish"] = verb{app.Publish, "produce events (JSON lines from a file or stdin) to a topic"}
	verbs["explain"] = verb{app.Explain, "what offpush did with one message for each device of one user (support; --user, --msg, --json)"}
	verbs["render"] = verb{rendercmd.Run, "show the APNs requests an event would cause for given settings, without sending"}
	verbs["apns-sim"] = verb{apnssim.Command, "the APNs simulator (HTTP/2 TLS, provider API, fault injection)"}
}
