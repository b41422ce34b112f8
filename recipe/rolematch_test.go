package recipe_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-zk/paddock/internal/zktest"
	"github.com/paddock-zk/paddock/recipe"
	"github.com/paddock-zk/paddock/zkclient"
)

// holdRec is one call of an applicant's hold: which role, when it ran and
// why it ended.
type holdRec struct {
	who, role  string
	token      int64
	start, end time.Time // end is zero while it runs
	cause      error
}

// holdLog records the holds of every applicant of a test.
type holdLog struct {
	t          *testing.T
	mu         sync.Mutex
	holds      []*holdRec
	applicants map[string]*applicant
}

func newHoldLog(t *testing.T) *holdLog { return &holdLog{t: t, applicants: map[string]*applicant{}} }

// applicant is one running Apply.
type applicant struct {
	id   string
	c    *zkclient.Client
	stop context.CancelFunc
	done chan struct{} // closed when Apply has returned
	err  error         // what it returned
}

// apply starts Apply for id on c, under dir. Each hold it is given is recorded, and
// checked against ZooKeeper: the holder znode must exist, name id, belong
// to c's session and carry the token.
func (h *holdLog) apply(c *zkclient.Client, dir string, id string) *applicant {
	rm := recipe.NewRoleMatch(c, dir)
	ctx, cancel := context.WithCancel(context.Background())
	a := &applicant{id: id, c: c, stop: cancel, done: make(chan struct{})}
	h.mu.Lock()
	h.applicants[id] = a
	h.mu.Unlock()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(20 * time.Second):
			h.t.Errorf("applicant %s did not stop", id)
		}
	})
	go func() {
		defer close(a.done)
		a.err = rm.Apply(ctx, id, func(ctx context.Context, r recipe.Role) {
			rec := &holdRec{who: id, role: r.Name, token: r.Token, start: time.Now()}
			h.mu.Lock()
			h.holds = append(h.holds, rec)
			h.mu.Unlock()
			data, st, err := c.Get(ctx, rm.HolderPath(r.Name))
			var hd recipe.RoleHolder
			switch {
			case err != nil:
				if ctx.Err() == nil {
					h.t.Errorf("%s holds %s, but its holder znode: %v", id, r.Name, err)
				}
			case json.Unmarshal(data, &hd) != nil || hd.Holder != id || hd.Item != r.ID || st.Czxid != r.Token:
				h.t.Errorf("%s holds %s (item %d, token %d), but the holder znode says %s (czxid %d)", id, r.Name, r.ID, r.Token, data, st.Czxid)
			default:
				if s, err := c.Session(ctx); err == nil && s.ID() != st.EphemeralOwner {
					h.t.Errorf("%s holds %s, but its holder znode belongs to session 0x%x, not 0x%x", id, r.Name, st.EphemeralOwner, s.ID())
				}
			}
			<-ctx.Done()
			h.mu.Lock()
			rec.end, rec.cause = time.Now(), context.Cause(ctx)
			h.mu.Unlock()
		})
	}()
	return a
}

// holding returns the role id holds now ("" for none).
func (h *holdLog) holding(id string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.holds {
		if r.who == id && r.end.IsZero() {
			return r.role
		}
	}
	return ""
}

// holder returns who holds role now ("" for nobody).
func (h *holdLog) holder(role string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.holds {
		if r.role == role && r.end.IsZero() {
			return r.who
		}
	}
	return ""
}

// last returns a copy of the last hold of role by id.
func (h *holdLog) last(id, role string) (holdRec, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := len(h.holds) - 1; i >= 0; i-- {
		if r := h.holds[i]; r.who == id && r.role == role {
			return *r, true
		}
	}
	return holdRec{}, false
}

func (h *holdLog) snapshot() []holdRec {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]holdRec, len(h.holds))
	for i, r := range h.holds {
		out[i] = *r
	}
	return out
}

// exclusive checks that the holds of each role never overlapped: each
// began after the previous one had ended. It returns the smallest gap
// between the end of a hold and the start of the next one of the role.
func (h *holdLog) exclusive(t *testing.T) time.Duration {
	t.Helper()
	byRole := map[string][]holdRec{}
	for _, r := range h.snapshot() {
		byRole[r.role] = append(byRole[r.role], r)
	}
	minGap := time.Duration(1<<63 - 1)
	for role, rs := range byRole {
		sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
		for i := 1; i < len(rs); i++ {
			prev, cur := rs[i-1], rs[i]
			if prev.end.IsZero() || cur.start.Before(prev.end) {
				t.Errorf("role %s held by %s from %s while %s held it (%s to %v)", role, cur.who,
					cur.start.Format("15:04:05.000"), prev.who, prev.start.Format("15:04:05.000"), prev.end)
				continue
			}
			minGap = min(minGap, cur.start.Sub(prev.end))
		}
	}
	return minGap
}

func applicantIDs(t *testing.T, rm *recipe.RoleMatch) []string {
	t.Helper()
	ms, err := rm.Applicants(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// queued waits until the applicants queue is exactly want.
func queued(t *testing.T, rm *recipe.RoleMatch, want ...string) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("applicants %v", want), func() bool {
		return slices.Equal(applicantIDs(t, rm), want)
	})
}

func addRole(t *testing.T, rm *recipe.RoleMatch, name, data string) {
	t.Helper()
	if err := rm.Add(ctxT(t), name, data); err != nil {
		t.Fatal(err)
	}
}

func holderOf(t *testing.T, rm *recipe.RoleMatch, name string) string {
	t.Helper()
	roles, err := rm.List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		if r.Name == name {
			return r.Holder
		}
	}
	t.Fatalf("no role %s in %+v", name, roles)
	return ""
}

func TestRoleMatchAddListRemove(t *testing.T) {
	ctx := ctxT(t)
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	addRole(t, rm, "shard-1", `["sleep","1000"]`)
	addRole(t, rm, "shard-2", "")
	if err := rm.Add(ctx, "shard-1", "other"); !errors.Is(err, recipe.ErrRoleExists) {
		t.Fatalf("second add of shard-1: %v, want ErrRoleExists", err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "-x", "with space", strings.Repeat("x", 65)} {
		if err := rm.Add(ctx, bad, ""); err == nil || errors.Is(err, recipe.ErrRoleExists) {
			t.Errorf("add %q: %v, want an invalid-name error", bad, err)
		}
	}
	if err := rm.Add(ctx, "big", strings.Repeat("x", recipe.MaxRoleData+1)); err == nil {
		t.Error("oversized data accepted")
	}
	roles, err := rm.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 2 || roles[0].Name != "shard-1" || roles[0].Data != `["sleep","1000"]` || roles[1].Name != "shard-2" ||
		roles[0].Holder != "" || roles[1].Holder != "" || !roles[1].Since.IsZero() {
		t.Fatalf("list: %+v", roles)
	}
	if err := rm.Remove(ctx, "shard-3"); !errors.Is(err, recipe.ErrNoRole) {
		t.Fatalf("remove shard-3: %v, want ErrNoRole", err)
	}
	if err := rm.Remove(ctx, "shard-1"); err != nil {
		t.Fatal(err)
	}
	if roles, _ = rm.List(ctx); len(roles) != 1 || roles[0].Name != "shard-2" {
		t.Fatalf("list after removal: %+v", roles)
	}
	// Removed, the name can be added again.
	addRole(t, rm, "shard-1", "again")
	if ids := applicantIDs(t, rm); len(ids) != 0 {
		t.Fatalf("applicants %v", ids)
	}

	// Concurrent adds of one name: exactly one wins.
	const n = 6
	errs := make(chan error, n)
	for i := range n {
		ci := dial(t, shared.Addr())
		go func() { errs <- recipe.NewRoleMatch(ci, dir).Add(ctx, "dup", fmt.Sprint(i)) }()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, recipe.ErrRoleExists):
			t.Errorf("concurrent add: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent adds of one name succeeded, want 1", won, n)
	}
	ids, err := rm.Bag().Items(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 {
		t.Errorf("bag items %v after the concurrent adds, want 3 (shard-2, shard-1, dup)", ids)
	}
}

func TestRoleMatchHeadClaimsAndLeavesQueue(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	h := newHoldLog(t)
	addRole(t, rm, "r1", "")
	h.apply(dial(t, shared.Addr()), dir, "a")
	eventually(t, 10*time.Second, "a to hold r1", func() bool { return h.holding("a") == "r1" })
	queued(t, rm) // a left the queue as it claimed
	if got := holderOf(t, rm, "r1"); got != "a" {
		t.Fatalf("r1 held by %q in the list, want a", got)
	}
	h.apply(dial(t, shared.Addr()), dir, "b")
	queued(t, rm, "b") // at the front, waiting for an open role
	h.apply(dial(t, shared.Addr()), dir, "c")
	queued(t, rm, "b", "c")
	addRole(t, rm, "r2", "")
	eventually(t, 10*time.Second, "the head b to take r2", func() bool { return h.holding("b") == "r2" })
	queued(t, rm, "c")
	if h.holding("c") != "" || h.holding("a") != "r1" {
		t.Fatalf("a holds %q, c holds %q", h.holding("a"), h.holding("c"))
	}
	r1, _ := h.last("a", "r1")
	r2, _ := h.last("b", "r2")
	if r2.token <= r1.token {
		t.Errorf("the later claim's token %d is not larger than the earlier one's %d", r2.token, r1.token)
	}
}

func TestRoleMatchFillsRolesInQueueOrder(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	h := newHoldLog(t)
	ids := []string{"a", "b", "c", "d"}
	for i, id := range ids {
		h.apply(dial(t, shared.Addr()), dir, id)
		queued(t, rm, ids[:i+1]...)
	}
	// Added in one go: the head takes the first, leaves, the next head
	// takes the next.
	for _, r := range []string{"r1", "r2", "r3"} {
		addRole(t, rm, r, "")
	}
	want := map[string]string{"a": "r1", "b": "r2", "c": "r3"}
	eventually(t, 10*time.Second, "r1, r2, r3 held by a, b, c", func() bool {
		for who, role := range want {
			if h.holding(who) != role {
				return false
			}
		}
		return true
	})
	queued(t, rm, "d")
	if got := h.holding("d"); got != "" {
		t.Fatalf("d holds %s", got)
	}
	if len(h.snapshot()) != 3 {
		t.Fatalf("holds: %+v", h.snapshot())
	}
}

func TestRoleMatchRemovalEndsHold(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	h := newHoldLog(t)
	addRole(t, rm, "r1", "")
	h.apply(dial(t, shared.Addr()), dir, "a")
	eventually(t, 10*time.Second, "a to hold r1", func() bool { return h.holding("a") == "r1" })
	h.apply(dial(t, shared.Addr()), dir, "b")
	queued(t, rm, "b")
	if err := rm.Remove(ctxT(t), "r1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a's hold to end", func() bool { return h.holding("a") == "" })
	if rec, _ := h.last("a", "r1"); !errors.Is(rec.cause, recipe.ErrRoleRemoved) {
		t.Errorf("a's hold ended with %v, want ErrRoleRemoved", rec.cause)
	}
	// a released the holder znode and applies again, behind b.
	queued(t, rm, "b", "a")
	eventually(t, 10*time.Second, "the holder znode to go", func() bool {
		st, err := c.Exists(ctxT(t), rm.HolderPath("r1"))
		return err == nil && st == nil
	})
	addRole(t, rm, "r1", "")
	eventually(t, 10*time.Second, "b to take the new r1", func() bool { return h.holding("b") == "r1" })
	queued(t, rm, "a")
}

// The holder's session expires (it is cut off by a silent partition): the
// head takes the role within the session timeout + 1 s, and the old
// holder's hold ended before: it stops as soon as the library reports the
// connection lost (2/3 of the session timeout), while the server expires
// the session only after the full timeout.
func TestRoleMatchHolderExpiry(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	h := newHoldLog(t)
	addRole(t, rm, "r1", "")
	pa, ca := proxied(t)
	h.apply(ca, dir, "a")
	eventually(t, 10*time.Second, "a to hold r1", func() bool { return h.holding("a") == "r1" })
	h.apply(dial(t, shared.Addr()), dir, "b")
	queued(t, rm, "b")

	cut := time.Now()
	expire(t, shared, pa, ca)
	eventually(t, 10*time.Second, "b to take r1", func() bool { return h.holding("b") == "r1" })
	took, _ := h.last("b", "r1")
	lost, _ := h.last("a", "r1")
	if d, bound := took.start.Sub(cut), ca.SessionTimeout()+time.Second; d > bound {
		t.Errorf("b took r1 %v after a was cut off, more than session timeout + 1 s (%v)", d, bound)
	} else {
		t.Logf("takeover %v after the partition began (session timeout %v)", d.Round(time.Millisecond), ca.SessionTimeout())
	}
	if !errors.Is(lost.cause, recipe.ErrDisconnected) {
		t.Errorf("a's hold ended with %v, want ErrDisconnected", lost.cause)
	}
	t.Logf("a stopped holding %v after the partition began, %v before b started",
		lost.end.Sub(cut).Round(time.Millisecond), took.start.Sub(lost.end).Round(time.Millisecond))
	h.exclusive(t)
	// On its new session a applies again.
	queued(t, rm, "a")
	if got := holderOf(t, rm, "r1"); got != "b" {
		t.Fatalf("r1 held by %q, want b", got)
	}
}

// Two roles, four applicants each behind its own proxy; the holder of a
// role is cut off until its session expires, five times. No role is ever
// held by two applicants at once: each hold starts after the previous hold
// of its role has ended (with no allowance: the cut-off holder stops when
// its client gives up on the connection, 2/3 of the session timeout after
// the last reply, before the server can expire its session), and at each
// hold's start the holder znode names the new holder and belongs to its
// session (checked in apply).
func TestRoleMatchNeverTwoHolders(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	h := newHoldLog(t)
	addRole(t, rm, "r1", "")
	addRole(t, rm, "r2", "")
	proxies := map[string]*zktest.Proxy{}
	clients := map[string]*zkclient.Client{}
	for _, id := range []string{"a", "b", "c", "d"} {
		proxies[id], clients[id] = proxied(t)
		h.apply(clients[id], dir, id)
	}
	held := func() bool { return h.holder("r1") != "" && h.holder("r2") != "" }
	eventually(t, 10*time.Second, "both roles held", held)
	var worst time.Duration
	for round := range 5 {
		role := []string{"r1", "r2"}[round%2]
		victim := h.holder(role)
		before, _ := h.last(victim, role)
		cut := time.Now()
		expire(t, shared, proxies[victim], clients[victim])
		eventually(t, 10*time.Second, role+" taken over", func() bool {
			w := h.holder(role)
			return w != "" && w != victim
		})
		next := h.holder(role)
		rec, _ := h.last(next, role)
		d := rec.start.Sub(cut)
		worst = max(worst, d)
		lost, _ := h.last(victim, role)
		if lost.start != before.start {
			t.Errorf("round %d: %s held %s again", round, victim, role)
		}
		t.Logf("round %d: %s cut off; it stopped %v later; %s took %s %v after the cut", round, victim,
			lost.end.Sub(cut).Round(time.Millisecond), next, role, d.Round(time.Millisecond))
		eventually(t, 10*time.Second, "both roles held", held)
	}
	if bound := time.Second + time.Second; worst > bound {
		t.Errorf("worst takeover %v, more than session timeout + 1 s (%v)", worst, bound)
	}
	gap := h.exclusive(t)
	t.Logf("%d holds; the smallest gap between a hold's end and the next hold of its role: %v; worst takeover %v",
		len(h.snapshot()), gap.Round(time.Millisecond), worst.Round(time.Millisecond))
	for _, r := range h.snapshot() {
		if !r.end.IsZero() && !errors.Is(r.cause, recipe.ErrDisconnected) {
			t.Errorf("%s's hold of %s ended with %v, want ErrDisconnected", r.who, r.role, r.cause)
		}
	}
}

// A holder whose client is closed (a graceful exit) frees its role at
// once: the server deletes the holder znode with the session, without
// waiting for the session timeout. One that stops applying (its context
// ends) releases the role itself.
func TestRoleMatchDepartureFreesRoleAtOnce(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	h := newHoldLog(t)
	addRole(t, rm, "r1", "")
	ca := dialTimeout(t, shared.Addr(), 5*time.Second)
	a := h.apply(ca, dir, "a")
	eventually(t, 10*time.Second, "a to hold r1", func() bool { return h.holding("a") == "r1" })
	h.apply(dialTimeout(t, shared.Addr(), 5*time.Second), dir, "b")
	queued(t, rm, "b")
	h.apply(dial(t, shared.Addr()), dir, "c")
	queued(t, rm, "b", "c")

	closed := time.Now()
	ca.Close()
	eventually(t, 10*time.Second, "b to take r1", func() bool { return h.holding("b") == "r1" })
	rec, _ := h.last("b", "r1")
	if d := rec.start.Sub(closed); d > time.Second {
		t.Errorf("b took r1 %v after a's client closed; want it at once, well within the 5 s session timeout", d)
	} else {
		t.Logf("takeover %v after close", d.Round(time.Millisecond))
	}
	<-a.done
	if !errors.Is(a.err, zkclient.ErrClosed) {
		t.Errorf("a's Apply returned %v, want ErrClosed", a.err)
	}
	if lost, _ := h.last("a", "r1"); !errors.Is(lost.cause, recipe.ErrSessionLost) {
		t.Errorf("a's hold ended with %v, want ErrSessionLost", lost.cause)
	}

	b := h.applicantOf("b")
	stopped := time.Now()
	b.stop()
	eventually(t, 10*time.Second, "c to take r1", func() bool { return h.holding("c") == "r1" })
	rec, _ = h.last("c", "r1")
	if d := rec.start.Sub(stopped); d > time.Second {
		t.Errorf("c took r1 %v after b stopped applying; want it at once", d)
	} else {
		t.Logf("takeover %v after b stopped", d.Round(time.Millisecond))
	}
	if lost, _ := h.last("b", "r1"); !errors.Is(lost.cause, recipe.ErrApplyStopped) {
		t.Errorf("b's hold ended with %v, want ErrApplyStopped", lost.cause)
	}
	h.exclusive(t)
}

// A holder disconnected for less than its session timeout stops holding
// while it cannot tell, and holds the role again (same claim, same token)
// once it reconnects on the same session; nobody else took it meanwhile.
func TestRoleMatchResumesAfterDisconnection(t *testing.T) {
	c := dial(t, shared.Addr())
	dir := recipeDir(t, c)
	rm := recipe.NewRoleMatch(c, dir)
	h := newHoldLog(t)
	addRole(t, rm, "r1", "")
	pa := zktest.NewProxy(t, shared.Addr())
	ca := dialTimeout(t, pa.Addr(), 5*time.Second)
	h.apply(ca, dir, "a")
	eventually(t, 10*time.Second, "a to hold r1", func() bool { return h.holding("a") == "r1" })
	first, _ := h.last("a", "r1")
	h.apply(dial(t, shared.Addr()), dir, "b")
	queued(t, rm, "b")
	sess := sessionOf(t, ca)

	pa.Cut()
	eventually(t, 10*time.Second, "a to stop holding", func() bool { return h.holding("a") == "" })
	if rec, _ := h.last("a", "r1"); !errors.Is(rec.cause, recipe.ErrDisconnected) {
		t.Errorf("a's hold ended with %v, want ErrDisconnected", rec.cause)
	}
	pa.Restore()
	eventually(t, 15*time.Second, "a to hold r1 again", func() bool { return h.holding("a") == "r1" })
	again, _ := h.last("a", "r1")
	if again.token != first.token {
		t.Errorf("token %d after resuming, want the claim's %d", again.token, first.token)
	}
	if !sess.Alive() || sessionOf(t, ca).ID() != sess.ID() {
		t.Fatal("the session did not survive the disconnection")
	}
	if got := h.holding("b"); got != "" {
		t.Errorf("b holds %s", got)
	}
	queued(t, rm, "b")
	h.exclusive(t)
}

func (h *holdLog) applicantOf(id string) *applicant {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.applicants[id]
}
