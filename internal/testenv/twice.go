package testenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// M is the part of *testing.M that RunTwice uses.
type M interface{ Run() int }

// RunTwice runs m's tests twice, for a package whose tests run on a single redis-server and
// on a Redis Cluster: first with use(nil), then with use(c) for a cluster of masters masters
// (no replicas) started once for the second run and closed after it. Tests pick their Redis
// by what use was last given; one that needs a server of its own (to stop it, say) skips
// itself on the cluster. It returns the exit code for os.Exit.
//
// The second run is left out when there is nothing to run twice (-test.list, fuzzing,
// benchmarks). Without redis-server or redis-cli it is skipped loudly, or fails when CI=true.
func RunTwice(m M, masters int, use func(*Cluster)) int {
	use(nil)
	code := m.Run()
	if !flag.Parsed() || flagSet("test.list") || flagSet("test.fuzz") || flagSet("test.fuzzworker") || flagSet("test.bench") {
		return code
	}
	c, err := NewCluster(masters, 0)
	switch {
	case errors.Is(err, ErrNoRedis) && os.Getenv("CI") != "true":
		fmt.Println("SKIPPED: THE TESTS ON A REDIS CLUSTER: redis-server or redis-cli not on PATH " +
			"(apt-get install -y redis-server)")
		return code
	case err != nil:
		fmt.Fprintf(os.Stderr, "testenv: start a %d-master cluster: %v\n", masters, err)
		return 1
	}
	defer c.Close()
	fmt.Printf("=== the tests again, on a Redis Cluster of %d masters (%v)\n", masters, c.Addrs())
	use(c)
	defer use(nil)
	if again := m.Run(); again != 0 {
		return again
	}
	return code
}

// flagSet reports whether the testing flag name has a value other than its default.
func flagSet(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != f.DefValue && f.Value.String() != ""
}
