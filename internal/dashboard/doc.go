// Package dashboard is Paddock's live status page: an http.Handler that
// serves one page (HTML, CSS and JavaScript embedded in the binary, nothing
// fetched from elsewhere, so it works with no internet), the status as JSON
// (GET /api/status, the coord.Status that `client status -o json` prints)
// and a stream of it (GET /api/events, server-sent events) that the page
// follows.
//
// Every master serves it on its HTTP listener, and `client dashboard` on a
// machine that runs no master. It reads ZooKeeper only while somebody looks:
// at most once per interval however many viewers, all of them sharing one
// reading, and not at all with no viewer.
//
// Reader is the reading itself (a coord.ReadStatus with a timeout, plus the
// throughput over the last minute from earlier readings); `client status
// --watch` uses it too.
package dashboard
