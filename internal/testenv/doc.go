// Package testenv is offpush's test environment: the throwaway processes and small helpers
// that the tests, `offpush bench` and the chaos harness (chaos/) share, so that each exists
// once. It is imported by the production binary (bench and the apns-sim verb use Proc and
// ProcCPU), so it does not import package testing: its functions take a TB, which *testing.T,
// *testing.B and testing.TB satisfy.
//
// What it holds, by file:
//
//   - redis.go: Server, one redis-server process on 127.0.0.1 on a free port (never 6379),
//     with its files in a directory of its own. By default persistence is off
//     (--save "" --appendonly no), so a Stop, Restart or Kill loses every key: what fault tests
//     want (a Redis that came back empty). With ServerOptions.AppendOnly it keeps an
//     append-only file fsynced on every write instead (the chaos harness), so a Kill loses
//     nothing acknowledged and StartAgain brings the data back; Wipe empties it. Start starts
//     one for a test and kills it at the test's end; NewServer starts one for a caller that
//     is not a test.
//   - cluster.go: StartCluster (or NewCluster, for a cluster shared by a package's tests)
//     starts a Redis Cluster of such servers: masters with optional replicas, created by
//     redis-cli --cluster create, with a short node timeout so that a killed master's replica
//     takes over in seconds, and cluster-require-full-coverage no, so that the other masters
//     serve their slots meanwhile. twice.go: RunTwice runs a package's tests on a single
//     server, then on a cluster.
//   - proc.go: Proc, a child process (redis-server, offpush workers, the simulator, bench
//     children, node) with its output in files or buffers, stopped by SIGTERM, SIGKILL or by
//     closing its stdin.
//   - procstat_linux.go: ProcCPU, the CPU time of a process from /proc.
//   - port.go: FreePort and FreeAddr. buffer.go: SyncBuffer, a bytes.Buffer that a process or
//     a goroutine writes while a test reads it. tb.go: TB, and LookPath, which skips a test
//     whose tool (redis-server, node) is missing, or fails it under CI=true.
package testenv
