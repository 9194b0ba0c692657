// Package app wires offpush's packages into the processes the command line starts:
// `offpush run` (the worker from a configuration file), `offpush dev` (the whole system in one
// process) and `offpush publish`. Nothing here is product logic; it connects, checks at startup
// that every dependency is usable, and shuts down in order.
package app
