// Command worker runs a Paddock worker: it registers with ZooKeeper and runs
// the tasks the master assigns to it.
package main

import "github.com/paddock-zk/paddock/internal/cli"

func main() { cli.Main(newCommand()) }
