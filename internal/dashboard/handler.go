package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/paddock-zk/paddock/internal/coord"
	"github.com/paddock-zk/paddock/zkclient"
	"go.uber.org/zap"
)

// DefaultInterval is how often the page updates while someone watches.
const DefaultInterval = time.Second

//go:embed assets
var assets embed.FS

// page is the HTML document, read once: it is served at "/", not under
// its file name.
var page = mustRead("assets/index.html")

func mustRead(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// contentPolicy forbids the page anything from elsewhere: no CDN, no
// inline script. It works offline because it cannot do otherwise.
const contentPolicy = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Options configure a Handler.
type Options struct {
	// Interval is the least time between two readings of ZooKeeper,
	// however many people watch. Default DefaultInterval.
	Interval time.Duration
	// Extra, when set, adds to every good reading what only the process
	// serving the page knows: the leading master sets
	// Status.OldestPendingSeconds. It runs on the reading goroutine, once
	// per reading, and must not block. The page shows "—" for what it
	// leaves unset.
	Extra func(*coord.Status)
	// Log reports when ZooKeeper becomes unreachable and reachable again.
	Log *zap.Logger
}

// Handler serves the status page:
//
//	GET /            the page
//	GET /assets/...  its script and style sheet
//	GET /api/status  the status as JSON (coord.Status; 503 with {"error","at"} when ZooKeeper cannot be read)
//	GET /api/events  server-sent events: "status" (data: the same JSON) or
//	                 "unreachable" (data: {"error","at"}) at every reading
//
// It reads ZooKeeper only while an event stream is open or a /api/status
// request asks, at most once per Options.Interval in all: every viewer and
// request shares the newest reading. Close ends the streams.
type Handler struct {
	reader   *Reader
	interval time.Duration
	log      *zap.Logger
	mux      *http.ServeMux
	ctx      context.Context // ended by Close: stops the reading loop and the streams
	cancel   context.CancelFunc
	loops    sync.WaitGroup

	mu      sync.Mutex
	snap    *snapshot     // the newest reading; nil before the first
	reading chan struct{} // closed when the reading in flight ends; nil when none is
	changed chan struct{} // closed and replaced whenever snap is
	viewers int           // open event streams
	looping bool          // the reading loop runs
	idle    chan struct{} // wakes the loop when the last viewer leaves
}

// snapshot is one reading, encoded once for every viewer.
type snapshot struct {
	start time.Time // when the reading began (monotonic): the rate limit counts from it
	ok    bool
	body  []byte // coord.Status, or failure
}

// failure is what /api/status and the "unreachable" event carry when
// ZooKeeper could not be read.
type failure struct {
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// New returns the status page of the tree l, read through c.
func New(c *zkclient.Client, l coord.Layout, o Options) *Handler {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{
		reader:   NewReader(c, l, o.Extra),
		interval: o.Interval,
		log:      o.Log,
		mux:      http.NewServeMux(),
		ctx:      ctx,
		cancel:   cancel,
		changed:  make(chan struct{}),
		idle:     make(chan struct{}, 1),
	}
	h.mux.HandleFunc("GET /{$}", h.servePage)
	h.mux.Handle("GET /assets/", http.FileServerFS(assets))
	h.mux.HandleFunc("GET /api/status", h.serveStatus)
	h.mux.HandleFunc("GET /api/events", h.serveEvents)
	return h
}

// ServeHTTP serves the routes listed on Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// Close ends every event stream and the reading loop, and waits for the
// loop. Register it with http.Server.RegisterOnShutdown: Shutdown waits for
// open requests, and an event stream never ends by itself. Idempotent.
func (h *Handler) Close() {
	h.mu.Lock() // so that no subscribe starts a loop past this point
	h.cancel()
	h.mu.Unlock()
	h.loops.Wait()
}

// Viewers is the number of open event streams.
func (h *Handler) Viewers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.viewers
}

func (h *Handler) servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", contentPolicy)
	_, _ = w.Write(page)
}

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	s, err := h.current(r.Context())
	if err != nil {
		return // the client left, or the handler closed
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !s.ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(append(s.body, '\n'))
}

// serveEvents streams every reading to one viewer until it leaves. A slow
// viewer only delays its own stream: it skips to the newest reading.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// A stream outlives any WriteTimeout of the server that mounts this.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	// retry: how long the browser waits before reconnecting a broken stream.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	defer h.subscribe()()
	var sent *snapshot
	for {
		h.mu.Lock()
		s, changed := h.snap, h.changed
		h.mu.Unlock()
		if s != nil && s != sent {
			event := "status"
			if !s.ok {
				event = "unreachable"
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, s.body); err != nil || rc.Flush() != nil {
				return
			}
			sent = s
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-h.ctx.Done():
			return
		}
	}
}

// subscribe counts a viewer in, starting the reading loop if it is not
// running, and returns the function that counts it out.
func (h *Handler) subscribe() (unsubscribe func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.viewers++
	if !h.looping && h.ctx.Err() == nil {
		h.looping = true
		h.loops.Add(1)
		go h.loop()
	}
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.viewers--; h.viewers == 0 {
			select {
			case h.idle <- struct{}{}:
			default: // already woken
			}
		}
	}
}

// loop reads every interval while anyone views, and ends as soon as nobody
// does (or at Close). looping changes under mu only, and only the loop
// clears it, so there is never more than one loop.
func (h *Handler) loop() {
	defer h.loops.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if s, err := h.current(h.ctx); err == nil {
			timer.Reset(time.Until(s.start.Add(h.interval)))
		}
		select {
		case <-timer.C:
		case <-h.idle:
		case <-h.ctx.Done():
		}
		h.mu.Lock()
		if h.viewers == 0 || h.ctx.Err() != nil {
			h.looping = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
	}
}

// current returns the newest reading if it began less than an interval
// ago; otherwise it reads, or waits for the reading another caller has in
// flight. ctx bounds only the wait: a reading, once started, is finished
// for everyone even if the caller that started it leaves.
func (h *Handler) current(ctx context.Context) (*snapshot, error) {
	for {
		h.mu.Lock()
		if s := h.snap; s != nil && time.Since(s.start) < h.interval {
			h.mu.Unlock()
			return s, nil
		}
		if ch := h.reading; ch != nil {
			h.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		h.reading = ch
		prev := h.snap
		h.mu.Unlock()

		s := h.read(prev)
		h.mu.Lock()
		h.snap, h.reading = s, nil
		close(ch)
		close(h.changed)
		h.changed = make(chan struct{})
		h.mu.Unlock()
		return s, nil
	}
}

// read takes one reading and encodes it; prev (the reading before, or nil)
// tells whether ZooKeeper just became unreachable or reachable again.
func (h *Handler) read(prev *snapshot) *snapshot {
	s := &snapshot{start: time.Now()}
	st, err := h.reader.Read(h.ctx)
	if err == nil {
		s.body, err = json.Marshal(st)
		s.ok = err == nil
	}
	if err != nil {
		s.body, _ = json.Marshal(failure{Error: err.Error(), At: time.Now().UTC()})
		if prev == nil || prev.ok {
			h.log.Warn("status page: cannot read the status", zap.Error(err))
		}
	} else if prev != nil && !prev.ok {
		h.log.Info("status page: reading the status again")
	}
	return s
}
