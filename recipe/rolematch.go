package recipe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
)

var (
	// ErrRoleExists reports an Add of a name that is already a role.
	ErrRoleExists = errors.New("rolematch: role exists")
	// ErrNoRole reports a Remove of a name that is not a role.
	ErrNoRole = errors.New("rolematch: no such role")
)

// Why a hold ends: context.Cause of the context Apply gives hold. (Also
// ErrSessionLost: the session expired or the client was closed, and the
// holder znode went with it.)
var (
	// ErrRoleRemoved: the role was removed from the bag.
	ErrRoleRemoved = errors.New("rolematch: role removed")
	// ErrHolderDeleted: someone deleted the holder znode while the
	// holder's session lived.
	ErrHolderDeleted = errors.New("rolematch: holder znode deleted")
	// ErrDisconnected: the connection to ZooKeeper was lost. The holder
	// cannot tell whether its session will expire (and another applicant
	// take the role) until it reconnects, so it stops at once; if it
	// reconnects on the same session it still holds the role and hold is
	// called again.
	ErrDisconnected = errors.New("rolematch: disconnected from ZooKeeper")
	// ErrApplyStopped: Apply's context ended (the applicant is shutting
	// down); the role is released.
	ErrApplyStopped = errors.New("rolematch: applicant stopping")
)

// MaxRoleData bounds a role's data.
const MaxRoleData = 64 << 10

var roleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckRoleName validates a role name: 1 to 64 letters, digits, '.', '_'
// or '-', starting with a letter or digit (so never "." or "..", which
// ZooKeeper refuses as a znode name).
func CheckRoleName(name string) error {
	if !roleNameRE.MatchString(name) {
		return fmt.Errorf("rolematch: invalid role name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
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
		return fmt.Errorf("rolematch: role %s: data is %d bytes, more than %d", name, len(data), MaxRoleData)
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
		return fmt.Errorf("rolematch: add role %s: %w", name, err)
	}
	if roles, err = rm.roles(ctx); err != nil {
		return err
	}
	if r, ok := roleNamed(roles, name); ok && r.ID < id {
		if _, err := rm.bag.Remove(ctx, id); err != nil {
			return fmt.Errorf("rolematch: add role %s: remove the duplicate item %d: %w", name, id, err)
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
