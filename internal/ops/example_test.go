package ops_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/paddock-zk/paddock/internal/ops"
)

// A daemon binds its listener first, registers its checks and pages, then
// serves; a probe says what is wrong.
func ExampleServer() {
	s, err := ops.Listen(ops.Config{Addr: "127.0.0.1:0", Version: "v1.2.3"})
	if err != nil {
		fmt.Println(err) // the daemon exits 2: a bad --http-addr
		return
	}
	loop := ops.NewLoop("main", ops.DefaultStall)
	loop.Waiting() // the loop would mark each wait for events
	s.Live("loop", loop.Check)
	s.Ready("backend", func() error { return errors.New("not connected") })
	s.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "status page") }))
	s.Start()
	defer s.Close(context.Background())

	for _, path := range []string{"/livez", "/readyz", "/"} {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %d %s\n", path, resp.StatusCode, body)
	}
	// Output:
	// /livez 200 {"ok":true,"checks":[{"name":"loop","ok":true}]}
	//
	// /readyz 503 {"ok":false,"checks":[{"name":"backend","ok":false,"reason":"not connected"}]}
	//
	// / 200 status page
}
