// Package ops is what a Paddock daemon (master or worker) shows its
// operators over HTTP, on the one listener of --http-addr:
//
//   - /metrics: Prometheus metrics from a registry of the process's own (no
//     global default registry), with the Go and process collectors,
//     paddock_build_info, and whatever the daemon registers;
//   - /livez: 200 while every liveness check passes (the daemon's main loop
//     is not wedged; see [Loop]), else 503; a JSON body either way;
//   - /readyz: 200 while every readiness check passes (the daemon can do its
//     job now), else 503 with the reasons in a JSON body;
//   - /debug/pprof/: Go's profiles.
//
// Other code mounts its own pages with [Server.Handle] before [Server.Start].
// docs/OPERATING.md lists every endpoint and metric.
package ops
