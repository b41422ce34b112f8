// Command election takes part in a herd-free leader election on ZooKeeper
// (the seed's section 2) and prints each change of its standing.
package main

import "github.com/paddock-zk/paddock/internal/cli"

func main() { cli.Main(newCommand()) }
