// Command client submits tasks to Paddock, collects their results, and
// shows the state of a deployment.
package main

import "github.com/paddock-zk/paddock/internal/cli"

func main() { cli.Main(newRootCommand()) }
