package cli

import (
	"net"
	"os"
	"strings"
)

// systemd's readiness protocol (sd_notify(3)) for units of Type=notify:
// one datagram of "KEY=value" lines to the socket named by NOTIFY_SOCKET.
const (
	NotifyReady    = "READY=1"
	NotifyStopping = "STOPPING=1"
)

// Notify tells the service manager about a state change. Outside systemd
// (no NOTIFY_SOCKET) it does nothing, so daemons call it unconditionally.
func Notify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:] // an abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}
