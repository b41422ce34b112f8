package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

var (
	// ErrRoleExists reports an Add of a name that is already a role.
	ErrRoleExists = errors.New("role exists")
	// ErrNoRole reports a Remove of a name that is not a role.
	ErrNoRole = errors.New("no such role")
)

// Why a hold ends: context.Cause of the context Apply gives hold. (Also
// ErrSessionLost: the session expired or the client was closed, and the
// holder znode went with it.)
var (
	// ErrRoleRemoved: the role was removed from the bag.
	ErrRoleRemoved = errors.New("role removed")
	// ErrHolderDeleted: someone deleted the holder znode while the
	// holder's session lived.
	ErrHolderDeleted = errors.New("holder znode deleted")
	// ErrDisconnected: the connection to ZooKeeper was lost. The holder
	// cannot tell whether its session will expire (and another applicant
	// take the role) until it reconnects, so it stops at once; if it
	// reconnects on the same session it still holds the role and hold is
	// called again.
	ErrDisconnected = errors.New("disconnected from ZooKeeper")
	// ErrApplyStopped: Apply's context ended (the applicant is shutting
	// down); the role is released.
	ErrApplyStopped = errors.New("applicant stopping")
)

// MaxRoleData bounds a role's data.
const MaxRoleData = 64 << 10

var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckRoleName validates a role name: 1 to 64 letters, digits, '.', '_'
// or '-', starting with a letter or digit (so never "." or "..", which
// ZooKeeper refuses as a znode name).
func CheckRoleName(name string) error {
	if !roleNameRE.MatchString(name) {
		return fmt.Errorf("invalid role name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// RoleMatch is PettingZoo's role match: long-lived jobs ("roles", such as
// shards) that must always be held by someone, and applicants that hold
// them, one role each.
//
//	<dir>/bag/...                       a Distributed Bag of the roles: persistent items,
//	                                    data JSON {"name": NAME, "data": S}
//	<dir>/applicants/candidate-<tag>-N  a Leader Queue of the applicants (ephemeral
//	                                    sequential), data JSON Member
//	<dir>/holders/<NAME>                the role's holder (ephemeral), data JSON RoleHolder
//
// The applicant at the front of the queue follows the bag (Bag.Watch) and
// holders/ (a child watch), and claims an open role (one without a holder
// znode, the lowest item id first) with one multi: delete its own
// candidate, check the role's item, create holders/<NAME>. So it leaves the
// queue as it claims (the next applicant becomes the head), and the claim
// can only succeed on the session of its candidacy: a request that the
// library sends on a newer session after an expiry fails on the deleted
// candidate instead of leaving a holder znode nobody knows it owns. Two
// applicants can never hold one role: the holder znode's name is the
// role's. If the holder dies, its session takes the holder znode along,
// the role is open again, and the head's child watch fires: it takes the
// role within the session timeout (plus ZooKeeper's tick rounding and a
// round trip).
//
// ZooKeeper cannot tell a partitioned holder that its session expired
// before the holder hears from it again. The holder therefore stops (hold's
// context is cancelled with ErrDisconnected) as soon as the library
// reports the connection lost, which is 2/3 of the session timeout after
// the last reply, before the server can expire the session (the full
// timeout after the last request). A paused process (SIGSTOP, a long GC)
// cannot stop itself in time: a role whose side effects must never overlap
// should fence them with Role.Token, which grows with every claim.
type RoleMatch struct {
	c   *zkclient.Client
	dir string
	bag *Bag
}

// NewRoleMatch returns the role match under dir (its znodes are created on
// first use).
func NewRoleMatch(c *zkclient.Client, dir string) *RoleMatch {
	return &RoleMatch{c: c, dir: dir, bag: NewBag(c, dir+"/bag")}
}

// Bag is the bag holding the roles.
func (rm *RoleMatch) Bag() *Bag { return rm.bag }

// ApplicantsDir is the applicants' leader queue.
func (rm *RoleMatch) ApplicantsDir() string { return rm.dir + "/applicants" }

// HoldersDir is the parent of the holder znodes.
func (rm *RoleMatch) HoldersDir() string { return rm.dir + "/holders" }

// HolderPath is role name's holder znode.
func (rm *RoleMatch) HolderPath(name string) string { return rm.HoldersDir() + "/" + name }

// roleItem is a bag item's data.
type roleItem struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// decodeRoleItem parses a bag item's data; an item that is not a role (not
// a JSON object, or without a valid name) wraps ErrMalformed: nobody can
// hold it.
func decodeRoleItem(b []byte) (roleItem, error) {
	var it roleItem
	if err := json.Unmarshal(b, &it); err != nil {
		return roleItem{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := CheckRoleName(it.Name); err != nil {
		return roleItem{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return it, nil
}

// RoleHolder is a holder znode's data.
type RoleHolder struct {
	Holder string    `json:"holder"` // the applicant's id
	Since  time.Time `json:"since"`
	Item   int64     `json:"item"` // the role's bag item id
}

// DecodeRoleHolder parses a holder znode's data; failures wrap ErrMalformed.
func DecodeRoleHolder(b []byte) (RoleHolder, error) {
	var h RoleHolder
	if err := json.Unmarshal(b, &h); err != nil {
		return RoleHolder{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return h, nil
}

// Role is a role as its holder sees it.
type Role struct {
	Name string
	Data string
	ID   int64 // its bag item id
	// Token is the claim's zxid (the holder znode's czxid): every later
	// claim of any role under this RoleMatch has a larger one. A holder
	// whose work must not overlap with its successor's can hand it to
	// what it writes to, which refuses tokens older than the newest seen.
	Token int64
}

// RoleStatus is one role and who holds it.
type RoleStatus struct {
	Name   string    `json:"name"`
	Data   string    `json:"data"`
	ID     int64     `json:"id"`               // bag item id
	Holder string    `json:"holder,omitempty"` // empty: open
	Since  time.Time `json:"since,omitzero"`
}

// Add adds a role. It returns ErrRoleExists when a role of that name
// exists. Two concurrent Adds of one name both create an item; each then
// lists the bag, and the one with the higher item id removes its own and
// returns ErrRoleExists (it always sees the lower one, created before its
// own). Meanwhile applicants take the lowest item id of a name as the role.
func (rm *RoleMatch) Add(ctx context.Context, name, data string) error {
	if err := CheckRoleName(name); err != nil {
		return err
	}
	if len(data) > MaxRoleData {
		return fmt.Errorf("role %s: data is %d bytes, more than %d", name, len(data), MaxRoleData)
	}
	roles, err := rm.roles(ctx)
	if err != nil {
		return err
	}
	if _, ok := roleNamed(roles, name); ok {
		return fmt.Errorf("%w: %s", ErrRoleExists, name)
	}
	b, err := json.Marshal(roleItem{Name: name, Data: data})
	if err != nil {
		return err
	}
	id, err := rm.bag.Add(ctx, b, false)
	if err != nil {
		return fmt.Errorf("add role %s: %w", name, err)
	}
	if roles, err = rm.roles(ctx); err != nil {
		return err
	}
	if r, ok := roleNamed(roles, name); ok && r.ID < id {
		if _, err := rm.bag.Remove(ctx, id); err != nil {
			return fmt.Errorf("add role %s: remove the duplicate item %d: %w", name, id, err)
		}
		return fmt.Errorf("%w: %s", ErrRoleExists, name)
	}
	return nil
}

// Remove removes a role: its holder's hold ends (ErrRoleRemoved) and it
// releases the holder znode. ErrNoRole when there is no such role.
func (rm *RoleMatch) Remove(ctx context.Context, name string) error {
	all, err := rm.items(ctx)
	if err != nil {
		return err
	}
	found := false
	for _, r := range all {
		if r.Name != name {
			continue
		}
		found = true
		if _, err := rm.bag.Remove(ctx, r.ID); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", ErrNoRole, name)
	}
	return nil
}

// List returns the roles, in the order they were added, with their
// holders. It lists the bag and holders/ and reads every znode: it is for
// monitoring, not for a loop.
func (rm *RoleMatch) List(ctx context.Context) ([]RoleStatus, error) {
	roles, err := rm.roles(ctx)
	if err != nil {
		return nil, err
	}
	names, _, err := rm.c.Children(ctx, rm.HoldersDir())
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return nil, err
	}
	holders := make([]*RoleHolder, len(names))
	if err := zkclient.Pipeline(len(names), func(i int) error {
		data, _, err := rm.c.Get(ctx, rm.HolderPath(names[i]))
		if errors.Is(err, zk.ErrNoNode) {
			return nil // released meanwhile
		}
		if err != nil {
			return err
		}
		h, err := DecodeRoleHolder(data)
		if err != nil {
			h = RoleHolder{Holder: "(unreadable holder znode)"}
		}
		holders[i] = &h
		return nil
	}); err != nil {
		return nil, err
	}
	byName := make(map[string]*RoleHolder, len(names))
	for i, n := range names {
		if holders[i] != nil {
			byName[n] = holders[i]
		}
	}
	out := make([]RoleStatus, len(roles))
	for i, r := range roles {
		out[i] = RoleStatus{Name: r.Name, Data: r.Data, ID: r.ID}
		if h := byName[r.Name]; h != nil {
			out[i].Holder, out[i].Since = h.Holder, h.Since
		}
	}
	return out, nil
}

// Applicants returns the applicants waiting for a role, the head first.
// Holders are not among them: an applicant leaves the queue as it claims a
// role and joins again when it no longer holds one.
func (rm *RoleMatch) Applicants(ctx context.Context) ([]Member, error) {
	cands, err := NewLeaderQueue(rm.c, rm.ApplicantsDir()).Candidates(ctx)
	if errors.Is(err, zk.ErrNoNode) {
		return []Member{}, nil
	}
	if err != nil {
		return nil, err
	}
	members := make([]*Member, len(cands))
	if err := zkclient.Pipeline(len(cands), func(i int) error {
		data, _, err := rm.c.Get(ctx, rm.ApplicantsDir()+"/"+cands[i])
		if errors.Is(err, zk.ErrNoNode) {
			return nil // claimed a role or left meanwhile
		}
		if err != nil {
			return err
		}
		m, err := DecodeMember(data)
		if err != nil {
			m = Member{ID: "(unreadable " + cands[i] + ")"}
		}
		members[i] = &m
		return nil
	}); err != nil {
		return nil, err
	}
	out := []Member{}
	for _, m := range members {
		if m != nil {
			out = append(out, *m)
		}
	}
	return out, nil
}

// items reads every item of the bag, in id order, skipping unreadable
// ones.
func (rm *RoleMatch) items(ctx context.Context) ([]Role, error) {
	ids, err := rm.bag.Items(ctx)
	if err != nil {
		return nil, err
	}
	roles := make([]*Role, len(ids))
	if err := zkclient.Pipeline(len(ids), func(i int) error {
		data, err := rm.bag.Get(ctx, ids[i])
		if errors.Is(err, ErrNoItem) {
			return nil
		}
		if err != nil {
			return err
		}
		it, err := decodeRoleItem(data)
		if err != nil {
			return nil // not a role: nobody can hold it
		}
		roles[i] = &Role{Name: it.Name, Data: it.Data, ID: ids[i]}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []Role
	for _, r := range roles {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// roles is items without duplicate names: a name's role is its lowest
// item id.
func (rm *RoleMatch) roles(ctx context.Context) ([]Role, error) {
	all, err := rm.items(ctx)
	if err != nil {
		return nil, err
	}
	return dedupRoles(all), nil
}

func dedupRoles(sorted []Role) []Role {
	seen := make(map[string]bool, len(sorted))
	out := make([]Role, 0, len(sorted))
	for _, r := range sorted {
		if !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r)
		}
	}
	return out
}

func roleNamed(roles []Role, name string) (Role, bool) {
	for _, r := range roles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// Apply makes the caller an applicant named id until ctx ends: it waits in
// the applicants queue; at the front, it waits for an open role and claims
// it (leaving the queue), then calls hold with a context that is cancelled
// when the role is lost, context.Cause saying why (ErrRoleRemoved,
// ErrHolderDeleted, ErrDisconnected, ErrSessionLost, ErrApplyStopped).
// Apply waits for hold to return before it does anything else, and calls
// hold only for a role whose holder znode it created on its live session
// (or, after ErrDisconnected, found still its own on the same session).
// When hold returns, Apply releases the role (deletes the holder znode if
// it is still its own) and applies again, at the back of the queue. After
// a session expiry it applies again on the new session.
//
// It returns ctx's error once ctx ends (after releasing any role), and
// ErrClosed when the client is closed.
func (rm *RoleMatch) Apply(ctx context.Context, id string, hold func(ctx context.Context, r Role)) error {
	member, err := json.Marshal(Self(id))
	if err != nil {
		return err
	}
	if err := ensurePath(ctx, rm.c, rm.HoldersDir()); err != nil {
		return err
	}
	a := &applicant{rm: rm, c: rm.c, id: id, member: member, hold: hold, view: newRoleView(),
		cache: map[int64]roleItem{}, bad: map[int64]bool{}}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	initial, err := rm.bag.Watch(wctx, a.view.add, a.view.remove)
	if err != nil {
		return err
	}
	a.view.init(initial)
	for {
		err := a.round(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil, errors.Is(err, ErrSessionLost), errors.Is(err, ErrCandidacyLost):
		default:
			return err
		}
	}
}

// roleView is the set of item ids in the bag, kept by the bag's watcher.
type roleView struct {
	mu      sync.Mutex
	ids     map[int64]bool
	early   map[int64]bool // removed before init
	ready   bool
	changed chan struct{}
}

func newRoleView() *roleView {
	return &roleView{ids: map[int64]bool{}, early: map[int64]bool{}, changed: make(chan struct{})}
}

func (v *roleView) wakeLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// init adds the ids Watch returned. The watcher may have reported changes
// already: an id removed then is not added (ids are never reused).
func (v *roleView) init(ids []int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range ids {
		if !v.early[id] {
			v.ids[id] = true
		}
	}
	v.early, v.ready = nil, true
	v.wakeLocked()
}

func (v *roleView) add(id int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.ids[id] = true
	v.wakeLocked()
}

func (v *roleView) remove(id int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.ready {
		v.early[id] = true
	}
	delete(v.ids, id)
	v.wakeLocked()
}

func (v *roleView) has(id int64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ids[id]
}

// snapshot returns the ids, sorted.
func (v *roleView) snapshot() []int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	ids := make([]int64, 0, len(v.ids))
	for id := range v.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// next returns a channel closed at the next change.
func (v *roleView) next() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// applicant is one Apply: one goroutine runs it.
type applicant struct {
	rm     *RoleMatch
	c      *zkclient.Client
	id     string
	member []byte
	hold   func(context.Context, Role)
	view   *roleView
	cache  map[int64]roleItem // items read so far (items never change)
	bad    map[int64]bool     // ids found gone or unreadable
}

// round is one candidacy: queue, claim at the front, hold.
func (a *applicant) round(ctx context.Context) error {
	sess, err := a.c.Session(ctx)
	if err != nil {
		return err
	}
	cand, err := NewLeaderQueue(a.c, a.rm.ApplicantsDir()).Join(ctx, sess, a.member)
	if err != nil {
		return err
	}
	if err := cand.Lead(ctx, nil); err != nil {
		discard(a.c, cand.Key())
		return err
	}
	r, err := a.claim(ctx, sess, cand)
	if err != nil {
		discard(a.c, cand.Key())
		return err
	}
	return a.holdRole(ctx, sess, r)
}

// retry is the package's retry, also failing once sess has ended.
func (a *applicant) retry(ctx context.Context, sess *zkclient.Session, err error) error {
	if err := retry(ctx, a.c, err); err != nil {
		return err
	}
	if !sess.Alive() {
		return ErrSessionLost
	}
	return nil
}

// claim waits, at the front of the queue, for an open role and claims it.
// It wakes on a change of the bag (the watcher's callbacks) or of holders/
// (a child watch): never on a timer.
func (a *applicant) claim(ctx context.Context, sess *zkclient.Session, cand *Candidate) (Role, error) {
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	gone := cand.Gone(gctx)
	for {
		if !sess.Alive() {
			return Role{}, ErrSessionLost
		}
		changed := a.view.next()
		held, hch, err := a.c.ChildrenW(ctx, a.rm.HoldersDir())
		if errors.Is(err, zk.ErrNoNode) {
			err = ensurePath(ctx, a.c, a.rm.HoldersDir())
			if err == nil {
				continue
			}
		}
		if err != nil {
			if err := a.retry(ctx, sess, err); err != nil {
				return Role{}, err
			}
			continue
		}
		roles, err := a.roles(ctx, sess)
		if err != nil {
			return Role{}, err
		}
		tried := false
		for _, r := range roles {
			if slices.Contains(held, r.Name) {
				continue
			}
			tried = true
			token, err := a.tryClaim(ctx, sess, cand, r)
			if err == nil {
				r.Token = token
				return r, nil
			}
			if !errors.Is(err, errNotClaimed) {
				return Role{}, err
			}
			break // look again: holders/ or the bag changed
		}
		if tried {
			continue
		}
		select {
		case <-hch:
		case <-changed:
		case <-gone:
			if !sess.Alive() {
				return Role{}, ErrSessionLost
			}
			return Role{}, ErrCandidacyLost
		case <-sess.Done():
			return Role{}, ErrSessionLost
		case <-ctx.Done():
			return Role{}, ctx.Err()
		}
	}
}

// roles returns the bag's roles as the watcher last saw them, reading the
// items not read yet.
func (a *applicant) roles(ctx context.Context, sess *zkclient.Session) ([]Role, error) {
	ids := a.view.snapshot()
	for {
		var missing []int64
		for _, id := range ids {
			if _, ok := a.cache[id]; !ok && !a.bad[id] {
				missing = append(missing, id)
			}
		}
		items := make([]*roleItem, len(missing))
		err := zkclient.Pipeline(len(missing), func(i int) error {
			data, _, err := a.c.Get(ctx, a.rm.bag.ItemPath(missing[i]))
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return err
			}
			it, err := decodeRoleItem(data)
			if err != nil {
				a.c.Logger().Warn("ignoring a bag item that is not a role", zap.String("item", a.rm.bag.ItemPath(missing[i])), zap.Error(err))
				return nil
			}
			items[i] = &it
			return nil
		})
		for i, id := range missing {
			switch {
			case items[i] != nil:
				a.cache[id] = *items[i]
			case err == nil:
				a.bad[id] = true
			}
		}
		if err == nil {
			break
		}
		if err := a.retry(ctx, sess, err); err != nil {
			return nil, err
		}
	}
	present := make(map[int64]bool, len(ids))
	var out []Role
	for _, id := range ids {
		present[id] = true
		if it, ok := a.cache[id]; ok && !a.bad[id] {
			out = append(out, Role{Name: it.Name, Data: it.Data, ID: id})
		}
	}
	for id := range a.cache {
		if !present[id] {
			delete(a.cache, id)
		}
	}
	for id := range a.bad {
		if !present[id] {
			delete(a.bad, id)
		}
	}
	return dedupRoles(out), nil
}

// errNotClaimed: someone else holds the role, or it was removed.
var errNotClaimed = errors.New("role not claimed")

// tryClaim claims r in one multi that also takes the applicant out of the
// queue, and returns the claim's token.
func (a *applicant) tryClaim(ctx context.Context, sess *zkclient.Session, cand *Candidate, r Role) (int64, error) {
	hp := a.rm.HolderPath(r.Name)
	data, err := json.Marshal(RoleHolder{Holder: a.id, Since: time.Now().UTC(), Item: r.ID})
	if err != nil {
		return 0, err
	}
	for {
		err := a.claimOnce(ctx, sess, cand.Key(), a.rm.bag.ItemPath(r.ID), hp, data)
		var me *zkclient.MultiError
		switch {
		case err == nil:
			return a.token(ctx, sess, hp)
		case errors.As(err, &me) && me.Index == 0 && errors.Is(err, zk.ErrNoNode):
			if !sess.Alive() {
				return 0, ErrSessionLost
			}
			return 0, ErrCandidacyLost
		case errors.As(err, &me) && me.Index == 1 && errors.Is(err, zk.ErrNoNode):
			a.bad[r.ID] = true // removed; the watcher will say so too
			return 0, errNotClaimed
		case errors.As(err, &me) && me.Index == 2 && errors.Is(err, zk.ErrNodeExists):
			return 0, errNotClaimed
		case errors.As(err, &me) && me.Index == 2 && errors.Is(err, zk.ErrNoNode):
			if err := ensurePath(ctx, a.c, a.rm.HoldersDir()); err != nil {
				return 0, err
			}
			continue
		case errors.As(err, &me):
			return 0, fmt.Errorf("claim role %s: %w", r.Name, err)
		}
		if err := a.retry(ctx, sess, err); err != nil {
			return 0, err
		}
		// The outcome is unknown. Our session lives, so a claim that was
		// applied still stands: the holder znode is ours exactly then.
		st, err := a.c.Exists(ctx, hp)
		if err != nil {
			if err := a.retry(ctx, sess, err); err != nil {
				return 0, err
			}
			continue
		}
		if st != nil && st.EphemeralOwner == sess.ID() {
			return st.Czxid, nil
		}
	}
}

// claimOnce sends the claim. If ctx ends before the reply, it returns and
// leaves a goroutine that releases the role if the claim was applied: a
// holder znode nobody knows it owns would keep the role from everyone for
// as long as the session lives.
func (a *applicant) claimOnce(ctx context.Context, sess *zkclient.Session, candKey, itemPath, hp string, data []byte) error {
	res := make(chan error, 1)
	go func() {
		_, err := a.c.Multi(context.Background(), zkclient.DeleteOp(candKey, -1), zkclient.CheckOp(itemPath, -1), zkclient.CreateOp(hp, data, zk.FlagEphemeral))
		res <- err
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		go func() {
			if err := <-res; err == nil || zkclient.IsConnectionError(err) {
				a.rm.release(sess, hp)
			}
		}()
		return ctx.Err()
	}
}

// token reads the holder znode just created: its czxid is the claim's
// token.
func (a *applicant) token(ctx context.Context, sess *zkclient.Session, hp string) (int64, error) {
	for {
		st, err := a.c.Exists(ctx, hp)
		if err != nil {
			if err := a.retry(ctx, sess, err); err != nil {
				if ctx.Err() != nil {
					a.rm.release(sess, hp)
				}
				return 0, err
			}
			continue
		}
		if st == nil || st.EphemeralOwner != sess.ID() {
			// Gone already: the session ended, or someone deleted it.
			if !sess.Alive() {
				return 0, ErrSessionLost
			}
			return 0, ErrCandidacyLost // the claim took us out of the queue: apply again
		}
		return st.Czxid, nil
	}
}

// releaseTimeout bounds the release of a role once its hold has ended.
const releaseTimeout = 10 * time.Second

// release deletes the holder znode hp if it is sess's, retrying across
// connection loss for a while. Deleting by path is preceded by an ownership
// check: a successor's znode has the same path.
func (rm *RoleMatch) release(sess *zkclient.Session, hp string) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	for sess.Alive() {
		st, err := rm.c.Exists(ctx, hp)
		if err == nil {
			if st == nil || st.EphemeralOwner != sess.ID() {
				return
			}
			err = rm.c.Delete(ctx, hp, st.Version)
			if err == nil || errors.Is(err, zk.ErrNoNode) {
				return
			}
		}
		if err := retry(ctx, rm.c, err); err != nil {
			if !errors.Is(err, zkclient.ErrClosed) {
				rm.c.Logger().Warn("could not release a role; it is free once the session ends", zap.String("path", hp), zap.Error(err))
			}
			return
		}
	}
}

// errReturned: hold returned on its own.
var errReturned = errors.New("hold returned")

// holdRole runs hold for r until the role is lost or hold returns, then
// releases the role. After a disconnection that the session survives, it
// calls hold again.
func (a *applicant) holdRole(ctx context.Context, sess *zkclient.Session, r Role) error {
	hp := a.rm.HolderPath(r.Name)
	for {
		cause := a.runHold(ctx, sess, r, hp)
		if errors.Is(cause, ErrDisconnected) && a.stillHeld(ctx, sess, r, hp) {
			continue
		}
		// Stopping while cut off from ZooKeeper, do not wait to release:
		// the session's end (Close, or expiry) frees the role.
		if ctx.Err() == nil || a.c.Connected() {
			a.rm.release(sess, hp)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case !sess.Alive():
			return ErrSessionLost
		}
		return nil
	}
}

// runHold calls hold and cancels its context at the first sign that the
// role is lost; it returns why, once hold has returned.
func (a *applicant) runHold(ctx context.Context, sess *zkclient.Session, r Role, hp string) error {
	hctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	h := newHold(a.c, sess, hp)
	lost := h.Lost()
	defer h.end()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.hold(hctx, r)
	}()
	var cause error
	for cause == nil {
		changed := a.view.next()
		conn := a.c.Changed()
		switch {
		case !sess.Alive():
			cause = ErrSessionLost
		case !a.c.Connected():
			cause = ErrDisconnected
		case !a.view.has(r.ID):
			cause = ErrRoleRemoved
		}
		if cause != nil {
			break
		}
		select {
		case <-done:
			cause = errReturned
		case <-ctx.Done():
			cause = ErrApplyStopped
		case <-lost:
			if sess.Alive() && a.c.Connected() {
				cause = ErrHolderDeleted
			}
		case <-sess.Done():
		case <-conn:
		case <-changed:
		}
	}
	cancel(cause)
	<-done
	return cause
}

// stillHeld waits for the client to reconnect and reports whether sess
// survived with the role still its own.
func (a *applicant) stillHeld(ctx context.Context, sess *zkclient.Session, r Role, hp string) bool {
	for {
		conn := a.c.Changed()
		if !sess.Alive() {
			return false
		}
		if a.c.Connected() {
			break
		}
		select {
		case <-conn:
		case <-sess.Done():
			return false
		case <-ctx.Done():
			return false
		}
	}
	for {
		st, err := a.c.Exists(ctx, hp)
		if err == nil && (st == nil || st.EphemeralOwner != sess.ID()) {
			return false
		}
		var item *zk.Stat
		if err == nil {
			item, err = a.c.Exists(ctx, a.rm.bag.ItemPath(r.ID))
		}
		if err == nil {
			return item != nil
		}
		if a.retry(ctx, sess, err) != nil {
			return false
		}
	}
}
