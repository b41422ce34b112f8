package main

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/paddock-zk/paddock/internal/zktest"
)

func main() {
	s, err := zktest.Launch(os.Args[1], 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Addr())
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	<-c
	s.Close()
}
