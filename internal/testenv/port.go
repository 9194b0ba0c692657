package testenv

import (
	"fmt"
	"net"
	"strconv"
)

// FreePort asks the kernel for a loopback port that is free right now. Another process can
// take it before the caller binds it: a caller that can, retries on another port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is 127.0.0.1:port of a FreePort, for a server a test configures; it fails t when
// there is none.
func FreeAddr(t TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
