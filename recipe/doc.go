// Package recipe is a library of ZooKeeper recipes for Go, in the spirit of
// Apache Curator: leader election, locks, semaphores, barriers, group
// membership, service discovery, distributed config and more, each correct
// across connection loss, lost replies and session expiry, and herd-free
// wherever processes wait their turn (a change wakes the processes it
// concerns, not everyone). It stands on package zkclient.
//
// # The recipes
//
//	recipe          file            what it is
//	LeaderQueue     leaderqueue.go  election / queue: the lowest candidate leads; each watches its predecessor
//	Mutex           lock.go         exclusive lock, herd-free, with a key to fence writes
//	Semaphore       semaphore.go    at most n leases at a time (Curator's InterProcessSemaphoreV2)
//	Barrier         barrier.go      hold processes back while a znode exists
//	DoubleBarrier   barrier.go      n participants enter together and leave together
//	Consensus       consensus.go    decide one value among concurrent proposers
//	Register        register.go     group membership: an exclusive ephemeral name per session
//	Bag             bag.go          an unordered collection followed at constant cost per change
//	Discovery       discovery.go    publish and find service instances with metadata
//	ServiceConfig   config.go       service-wide config with per-process overrides, watched
//	RoleMatch       rolematch.go    long-lived roles always held, one per applicant (applicant: rolematch_applicant.go)
//
// Shared pieces: recipes.go (sequential znodes that survive a lost reply,
// parents, Member), loops.go (the loops every recipe is made of: retry
// until the session ends, watch a held znode, resync on a new session,
// clean-ups owned by the client).
//
// # Sessions: who takes one, who follows them
//
// Ephemeral state lives as long as one ZooKeeper session. Two kinds of
// calls follow from that:
//
//   - Calls that create ephemeral state for the caller to build on take
//     the *zkclient.Session it belongs to, and fail with ErrSessionLost
//     once it has ended: LeaderQueue.Join, Register, Service.Publish and
//     Service.Register. The caller has built other state on that session
//     (it leads, it is registered) and must know when all of it is gone, so
//     it decides when to start over; these calls never silently move to a
//     newer session. Such state is also refused if it lands on a newer
//     session after all (a request queued while disconnected is sent on
//     whatever session the client gets next): it is deleted, and the call
//     reports ErrSessionLost.
//   - Everything else follows sessions itself: Mutex.Lock, Semaphore.Acquire
//     and DoubleBarrier.Enter queue again on the next session if theirs
//     ends while they wait (a waiter holds nothing yet); Bag.Watch,
//     Service.Watch and ServiceConfig.Watch re-read everything on each new
//     session and report what changed meanwhile; Service.Keep publishes
//     again; RoleMatch.Apply applies again. What is held (a lock, a lease,
//     a role) is not taken again silently: Lost channels and hold contexts
//     say when it ended, and releasing reports ErrSessionLost.
//
// Connection loss is not session loss: every recipe waits out a broken
// connection (zkclient.Client.Retry) and carries on on the same session,
// its ephemeral znodes and watches intact. Role Match alone acts on
// disconnection, because a holder cannot know whether its session is
// expiring (see ErrDisconnected).
//
// # Lost replies
//
// A request whose connection broke may have been applied. Each recipe
// stays correct without knowing: sequential znodes carry a random tag in
// their name, so a retried create finds the first one instead of making a
// second (LeaderQueue, Mutex, Semaphore, Consensus); a Bag item is created
// with a pending marker whose creation zxid identifies it; a deletion that
// finds nothing after a retry counts as done; Role Match's claim is
// re-read by the holder znode's owner; ServiceConfig writes are
// conditional on the version read, so a retried write finds nothing left
// to do. A caller that gives up (its context ends) mid-request does not
// leave ephemeral state behind: the client deletes it in the background
// (zkclient.Client.Go).
//
// # Fencing tokens
//
// ZooKeeper cannot tell a holder that was paused (a long GC, SIGSTOP) or
// partitioned that its session expired before the holder acts again: for a
// moment two processes may each believe they hold the lock. Where that
// matters, fence the writes:
//
//   - Writes to ZooKeeper: add zkclient.CheckOp(key, -1) to the multi,
//     where key is the hold's znode (Mutex.Key, Lease.Key, Candidate.Key).
//     The multi fails as a whole once the znode is gone, so a deposed
//     holder's write is refused.
//   - Writes elsewhere: Role.Token is the claim's zxid (the holder znode's
//     creation zxid), larger for every later claim under the RoleMatch.
//     Hand it with each write to the resource, which remembers the largest
//     token it has seen and refuses smaller ones. (Paddock's master does
//     both: a CheckOp of its candidacy and of an epoch znode it bumps on
//     taking over, whose number is its token.)
//
// # Errors
//
// Every error a recipe makes starts with the recipe's name and a colon:
// "bag: ", "lock: ", "semaphore: ", "barrier: ", "consensus: ",
// "register: ", "leaderqueue: ", "discovery: ", "config: ", "rolematch: ";
// errors shared by several recipes start with "recipe: " (ErrNotHeld,
// ErrMalformed). Sentinel errors are a prefix and a phrase ("bag: no such
// item"), wrapped with detail after them ("bag: no such item: 7 in /jobs")
// so errors.Is finds them. Errors from below keep their own prefix:
// ErrSessionLost and zkclient.ErrClosed belong to the session and the
// client ("zkclient: "), and a context's error is ctx's.
//
// # Goroutines
//
// A recipe's background goroutines are owned: watchers (Bag.Watch,
// Service.Watch, ServiceConfig.Watch, Candidate.Gone) end when the context
// they were given ends; a hold's watch (Mutex.Lost, Lease.Lost) ends with
// the hold; clean-ups run on the client's goroutines (zkclient.Client.Go),
// which Close stops and waits for. RoleMatch.Apply waits for everything it
// started before it returns.
//
// # Cost
//
// The recipes are measured by the ZooKeeper requests and notifications
// they cost (zkclient.Stats), and the tests hold them to it: a departure
// from a queue of 50 wakes exactly one waiter; a bag watcher pays the same
// per change whether the bag holds 10 items or 10,000.
package recipe
