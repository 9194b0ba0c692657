package chaos

import "offpush/internal/testenv"

// Proc is one child process of the harness (worker, simulator, redis-server, replay).
type Proc = testenv.Proc

// startProc starts bin with args and env (the whole environment of the child), logging to
// dir/name.stdout and dir/name.stderr, kept for the secrets check and for reading when a
// scenario fails. The kernel kills the child when the harness dies, so no worker, simulator
// or redis-server outlives a crashed test run.
func startProc(dir, name, bin string, args, env []string) (*Proc, error) {
	return testenv.StartProc(testenv.ProcSpec{Name: name, Bin: bin, Args: args, Env: env, LogDir: dir,
		DieWithParent: true})
}
