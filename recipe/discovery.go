package recipe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-zookeeper/zk"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// ErrNoService reports that a service has no entry: nothing is published
// under its class and name (and, for LookupOrFile, no local file has it).
var ErrNoService = errors.New("discovery: no such service")

// Entry is one published instance of a service.
type Entry struct {
	Key  string         // the instance's key (PettingZoo defaulted it to the host's IP)
	Raw  []byte         // the znode's data as published (JSON or YAML)
	Meta map[string]any // Raw decoded; nil when Raw is not a mapping
}

// Discovery is PettingZoo's distributed discovery: services publish their
// configuration, arbitrary structured metadata, and clients find them.
//
//	<base>/<class>/<name>/<key>   one entry per instance, ephemeral by default
//
// The class may itself contain '/' (e.g. "db/postgres"). Discovery only
// names pools: Service(class, name) returns the pool, whose methods
// publish, find and watch its entries. Publish writes JSON, which YAML
// readers (the original's) read too; readers accept JSON or YAML.
//
// An ephemeral entry lives as long as the session it was published on:
// after expiry it is gone and the publisher must publish again on the new
// session. Service.Keep does that.
type Discovery struct {
	c    *zkclient.Client
	base string
}

// NewDiscovery returns discovery under base (e.g. "/discovery").
func NewDiscovery(c *zkclient.Client, base string) *Discovery { return &Discovery{c: c, base: base} }

// Service is one pool of instances: the children of one znode. Discovery
// places pools at <base>/<class>/<name>; NewService puts one anywhere
// (Paddock's workers register in <root>/workers, the seed's node).
type Service struct {
	c     *zkclient.Client
	path  string
	class string // for messages
	name  string
}

// NewService returns the pool whose entries are the children of path.
func NewService(c *zkclient.Client, path string) *Service {
	return &Service{c: c, path: path, class: path, name: "-"}
}

// Service returns the pool of class/name, or an error when class or name
// is not a valid znode path (class components and name must be non-empty
// names without '/').
func (d *Discovery) Service(class, name string) (*Service, error) {
	sp, err := d.ServicePath(class, name)
	if err != nil {
		return nil, err
	}
	return &Service{c: d.c, path: sp, class: class, name: name}, nil
}

// ServicePath is the znode whose children are the entries of class/name.
func (d *Discovery) ServicePath(class, name string) (string, error) {
	if class == "" {
		return "", errors.New("discovery: empty service class")
	}
	for _, part := range strings.Split(class, "/") {
		if err := validName("service class component", part); err != nil {
			return "", fmt.Errorf("discovery: service class %q: %w", class, err)
		}
	}
	if err := validName("service name", name); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	return d.base + "/" + class + "/" + name, nil
}

// Publish writes key's entry with meta encoded as JSON (a json.RawMessage
// is written as is), replacing an existing entry in one multi, so readers
// never see the instance missing. An ephemeral entry belongs to sess: it
// returns ErrSessionLost when sess has ended before the write. (If sess
// ends during the call, the entry may land on the client's next session
// instead, which only makes it live longer.)
func (s *Service) Publish(ctx context.Context, sess *zkclient.Session, key string, meta any, ephemeral bool) error {
	if err := validName("service key", key); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	data, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("discovery: publish in %s: encode metadata: %w", s.path, err)
	}
	flags := int32(zk.FlagPersistent)
	if ephemeral {
		flags = zk.FlagEphemeral
	}
	p := s.path + "/" + key
	for {
		if ephemeral && !sess.Alive() {
			return ErrSessionLost
		}
		_, err := s.c.Create(ctx, p, data, flags)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := ensurePath(ctx, s.c, s.path); err != nil {
				return err
			}
			continue
		case errors.Is(err, zk.ErrNodeExists):
			// Replace it in one transaction, so readers never see the
			// instance missing.
			_, err = s.c.Multi(ctx, zkclient.DeleteOp(p, -1), zkclient.CreateOp(p, data, flags))
			var me *zkclient.MultiError
			if err == nil {
				return nil
			}
			if errors.As(err, &me) {
				continue // it went, or came back, meanwhile
			}
		}
		if err := s.c.Retry(ctx, err); err != nil {
			return fmt.Errorf("discovery: publish %s: %w", p, err)
		}
	}
}

// Register publishes key's ephemeral entry under sess exclusively: unlike
// Publish it never replaces an entry of another live session (two processes
// would then answer to one name) but waits for it to go. See Register.
func (s *Service) Register(ctx context.Context, sess *zkclient.Session, key string, meta any) error {
	if err := validName("service key", key); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	data, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("discovery: register in %s: encode metadata: %w", s.path, err)
	}
	return Register(ctx, s.c, sess, s.path+"/"+key, data)
}

// Update rewrites key's entry in place (e.g. a worker starting to drain).
func (s *Service) Update(ctx context.Context, key string, meta any) error {
	data, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	_, err = s.c.Set(ctx, s.path+"/"+key, data, -1)
	return err
}

// Unpublish removes key's entry (a missing entry is not an error).
func (s *Service) Unpublish(ctx context.Context, key string) error {
	err := deleteOwn(ctx, s.c, s.path+"/"+key)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return err
}

// Keep publishes an ephemeral entry and publishes it again on every new
// session, until ctx ends; then it removes the entry (if it is still this
// client's) and returns ctx's error. Other errors end it early. It follows
// sessions itself: it takes no Session.
func (s *Service) Keep(ctx context.Context, key string, meta any) error {
	for {
		sess, err := s.c.Session(ctx)
		if err != nil {
			break
		}
		err = s.Publish(ctx, sess, key, meta, true)
		if errors.Is(err, ErrSessionLost) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		select {
		case <-sess.Done():
			s.c.Logger().Info("session ended; publishing again", zap.String("service", s.path), zap.String("key", key))
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	// Withdraw, without the ended ctx but not for long.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	p := s.path + "/" + key
	if st, err := s.c.Exists(wctx, p); err == nil && st != nil && st.EphemeralOwner == s.c.Conn().SessionID() {
		_ = s.c.Delete(wctx, p, st.Version)
	}
	return ctx.Err()
}

// Lookup returns every entry of the pool, sorted by key, or an error
// wrapping ErrNoService when there is none.
func (s *Service) Lookup(ctx context.Context) ([]Entry, error) {
	for {
		names, _, err := s.c.Children(ctx, s.path)
		if errors.Is(err, zk.ErrNoNode) {
			names, err = nil, nil
		}
		if err == nil {
			var entries []Entry
			entries, err = s.read(ctx, names)
			if err == nil {
				if len(entries) == 0 {
					return nil, noService(s.class, s.name, s.path)
				}
				return entries, nil
			}
		}
		if err := s.c.Retry(ctx, err); err != nil {
			return nil, err
		}
	}
}

func noService(class, name, sp string) error {
	return fmt.Errorf("%w: nothing published for class %q name %q (no children under %s)", ErrNoService, class, name, sp)
}

// read gets the entries named, skipping those deleted since the listing.
func (s *Service) read(ctx context.Context, keys []string) ([]Entry, error) {
	got := make([]*Entry, len(keys))
	err := zkclient.Pipeline(len(keys), func(i int) error {
		data, _, err := s.c.Get(ctx, s.path+"/"+keys[i])
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		e := newEntry(keys[i], data)
		got[i] = &e
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range got {
		if e != nil {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func newEntry(key string, raw []byte) Entry {
	e := Entry{Key: key, Raw: raw}
	var m map[string]any
	if yaml.Unmarshal(yamlReadable(raw), &m) == nil {
		e.Meta = m
	}
	return e
}

// yamlReadable returns raw, or, when raw is JSON text, the same JSON with
// the characters that YAML refuses unescaped (DEL, the C1 controls, U+FFFE,
// U+FFFF) or reads as a line break (NEL, U+0085) written as \u escapes.
// encoding/json writes them as they are, so without this an entry that
// Publish wrote would read as no mapping, or with NEL turned into a space.
// In JSON text they can only stand inside strings, where the escape means
// the same character to both parsers.
func yamlReadable(raw []byte) []byte {
	if !json.Valid(raw) {
		return raw
	}
	var out []byte // nil until a character needs escaping
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		switch {
		case r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff:
			if out == nil {
				out = append(make([]byte, 0, len(raw)+16), raw[:i]...)
			}
			out = fmt.Appendf(out, `\u%04x`, r)
		case out != nil:
			out = append(out, raw[i:i+n]...)
		}
		i += n
	}
	if out == nil {
		return raw
	}
	return out
}

// Pick returns one entry chosen at random, or an error wrapping ErrNoService.
func (s *Service) Pick(ctx context.Context) (Entry, error) {
	entries, err := s.Lookup(ctx)
	if err != nil {
		return Entry{}, err
	}
	return entries[rand.IntN(len(entries))], nil
}

// LookupOrFile is Lookup falling back, when nothing is published, on a
// local YAML or JSON file: a mapping is one entry, a sequence of mappings
// one entry each (keys "file:<path>" and "file:<path>#<i>"). When neither
// has the service the error wraps ErrNoService and names both places.
// Other errors (ZooKeeper unreachable) are returned as they are: a stale
// local file must not silently stand in for a live registry.
func (d *Discovery) LookupOrFile(ctx context.Context, class, name, file string) ([]Entry, error) {
	svc, err := d.Service(class, name)
	if err != nil {
		return nil, err
	}
	entries, err := svc.Lookup(ctx)
	if !errors.Is(err, ErrNoService) {
		return entries, err
	}
	sp := svc.path
	raw, ferr := os.ReadFile(file)
	if ferr != nil {
		return nil, fmt.Errorf("%w: class %q name %q is neither published in ZooKeeper (nothing under %s) nor in a local file (%v)", ErrNoService, class, name, sp, ferr)
	}
	entries, err = fileEntries(fmt.Sprintf("discovery: service %s/%s: local file %s", class, name, file), "file:"+file, raw)
	if err != nil || len(entries) > 0 {
		return entries, err
	}
	return nil, fmt.Errorf("%w: class %q name %q is not published in ZooKeeper (nothing under %s) and local file %s holds no mapping", ErrNoService, class, name, sp, file)
}

// fileEntries decodes a local discovery file: a mapping is one entry (key
// key), a sequence of mappings one entry each (key#<i>); anything else holds
// no entry. Errors begin with where.
func fileEntries(where, key string, raw []byte) ([]Entry, error) {
	var doc any
	if err := yaml.Unmarshal(yamlReadable(raw), &doc); err != nil {
		return nil, fmt.Errorf("%s is not valid YAML or JSON: %w", where, err)
	}
	switch v := doc.(type) {
	case map[string]any:
		return []Entry{{Key: key, Raw: raw, Meta: v}}, nil
	case []any:
		var out []Entry
		for i, item := range v {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: item %d is not a mapping", where, i)
			}
			b, err := json.Marshal(m)
			if err != nil {
				return nil, fmt.Errorf("%s: item %d: %w", where, i, err)
			}
			out = append(out, Entry{Key: fmt.Sprintf("%s#%d", key, i), Raw: b, Meta: m})
		}
		return out, nil
	}
	return nil, nil
}

// Watch calls fn with the pool's entries (sorted by key, possibly none)
// now and after every change: an instance published, replaced, changed or
// gone. It returns once fn has had the current pool; fn then runs on the
// watcher's goroutine until ctx ends (which ends the goroutine). The
// watcher keeps a children watch on the service and a data watch per
// entry, so a change costs reads of what changed only. It follows sessions
// itself: after a session expiry it re-reads the pool and calls fn if it
// changed meanwhile.
func (s *Service) Watch(ctx context.Context, fn func([]Entry)) error {
	w := &poolWatch{
		s: s, fn: fn,
		entries: map[string]Entry{},
		gens:    map[string]int{},
		events:  make(chan keyedEvent[entryWatch], 16),
		stop:    make(chan struct{}),
	}
	sess, err := s.c.Session(ctx)
	if err != nil {
		return err
	}
	if err := w.refresh(ctx, true); err != nil {
		close(w.stop)
		return fmt.Errorf("discovery: watch %s: %w", s.path, err)
	}
	w.report(true)
	go func() {
		defer close(w.stop) // ends the entry watches' forwarders
		followSessions(ctx, s.c, "discovery "+s.path, sess, w)
	}()
	return nil
}

type entryWatch struct {
	key string
	gen int
}

type poolWatch struct {
	s       *Service
	fn      func([]Entry)
	entries map[string]Entry
	gens    map[string]int // key → generation of its data watch
	gen     int
	last    []Entry         // what fn had last
	ch      <-chan zk.Event // the children (or exists) watch on the service
	events  chan keyedEvent[entryWatch]
	stop    chan struct{}
}

// refresh lists the pool (re-arming the children watch, or an exists watch
// while the service znode is missing, in w.ch) and reads the entries it
// does not watch yet; with full it re-reads all (a new session has no
// watches).
func (w *poolWatch) refresh(ctx context.Context, full bool) error {
	c := w.s.c
	for {
		names, _, ch, err := c.ChildrenW(ctx, w.s.path)
		if errors.Is(err, zk.ErrNoNode) {
			var st *zk.Stat
			st, ch, err = c.ExistsW(ctx, w.s.path)
			if err == nil && st != nil {
				continue // created meanwhile: list it
			}
			names = nil
		}
		if err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		if full {
			w.gen++
			w.gens = map[string]int{}
		}
		var want []string
		listed := map[string]bool{}
		for _, n := range names {
			listed[n] = true
			if _, ok := w.gens[n]; !ok {
				want = append(want, n)
			}
		}
		for k := range w.entries {
			if !listed[k] {
				delete(w.entries, k)
				delete(w.gens, k)
			}
		}
		if err := w.readEntries(ctx, want); err != nil {
			if err := c.Retry(ctx, err); err != nil {
				return err
			}
			continue
		}
		w.ch = ch
		return nil
	}
}

// readEntries reads keys with a data watch each.
func (w *poolWatch) readEntries(ctx context.Context, keys []string) error {
	type got struct {
		data []byte
		ch   <-chan zk.Event
		ok   bool
	}
	res := make([]got, len(keys))
	err := zkclient.Pipeline(len(keys), func(i int) error {
		data, _, ch, err := w.s.c.GetW(ctx, w.s.path+"/"+keys[i])
		if errors.Is(err, zk.ErrNoNode) {
			res[i] = got{ok: true}
			return nil
		}
		if err != nil {
			return err
		}
		res[i] = got{data, ch, true}
		return nil
	})
	for i, k := range keys {
		r := res[i]
		switch {
		case !r.ok:
		case r.ch == nil:
			delete(w.entries, k)
			delete(w.gens, k)
		default:
			w.entries[k] = newEntry(k, r.data)
			w.gens[k] = w.gen
			watchForward(r.ch, entryWatch{k, w.gen}, w.events, w.stop)
		}
	}
	return err
}

// report calls fn if the pool differs from what fn had last (or always).
func (w *poolWatch) report(always bool) {
	cur := make([]Entry, 0, len(w.entries))
	for _, e := range w.entries {
		cur = append(cur, e)
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].Key < cur[j].Key })
	if !always && samePool(cur, w.last) {
		return
	}
	w.last = cur
	w.fn(append([]Entry(nil), cur...))
}

func samePool(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Raw, b[i].Raw) {
			return false
		}
	}
	return true
}

// resync re-reads the whole pool on a new session and reports a change.
func (w *poolWatch) resync(ctx context.Context) error {
	if err := w.refresh(ctx, true); err != nil {
		return err
	}
	w.report(false)
	return nil
}

// step waits for the pool's or an entry's watch (see watcher).
func (w *poolWatch) step(ctx context.Context, sess *zkclient.Session) error {
	select {
	case <-ctx.Done():
	case <-sess.Done():
	case ev := <-w.ch:
		if ev.Type == zk.EventNotWatching {
			awaitEnd(ctx, sess)
			return nil
		}
		if err := w.refresh(ctx, false); err != nil {
			return err
		}
		w.report(false)
	case e := <-w.events:
		if w.gens[e.key.key] != e.key.gen {
			return nil
		}
		// Changed, or deleted (perhaps replaced): read it again.
		delete(w.gens, e.key.key)
		for {
			err := w.readEntries(ctx, []string{e.key.key})
			if err == nil {
				w.report(false)
				return nil
			}
			if err := w.s.c.Retry(ctx, err); err != nil {
				return err
			}
		}
	}
	return nil
}
