// Command master runs a Paddock master: the elected one assigns tasks to
// workers; the others wait in line as hot backups.
package main

import "github.com/paddock-zk/paddock/internal/cli"

func main() { cli.Main(newCommand()) }
