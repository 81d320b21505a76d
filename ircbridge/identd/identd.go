// Package identd is a small RFC 1413 identification server for the
// gateway's IRC connections.
//
// An IRC server that receives a connection from the gateway connects back
// to port 113 of the gateway's address and asks who owns that connection,
// naming it by its two ports from the gateway's point of view:
//
//	<port on the gateway's side> , <port on the IRC server's side>
//
// for example "43567 , 6667". The gateway's IRC client registers each
// connection it opens with Register (the ircclient.Config.Ident hook does
// that at connect time, before the server can ask), and the server answers
//
//	43567 , 6667 : USERID : OTHER : <user>
//
// when a registered connection has these ports and its remote address is the
// querier's IP, and
//
//	43567 , 6667 : ERROR : NO-USER
//
// otherwise: it never answers for connections that are not the gateway's,
// nor to a host that is not the other end of the connection. Biboumi answers
// with the SHA-1 hex digest of the user's bare JID; the caller passes that
// string as user.
//
// The IRC server may query before the gateway's dialer has even returned
// from connect (on loopback it often does), so a query for an unknown pair
// waits up to Grace for its registration before NO-USER.
//
// Each querier connection gets one query (at most MaxLineBytes, within
// Timeout) and one answer; at most MaxConns are served at once, and further
// connections are closed at once.
package identd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultMaxConns = 64
	DefaultTimeout  = 10 * time.Second
	DefaultGrace    = time.Second
	// MaxLineBytes bounds a query line. A valid query is at most 13 bytes
	// ("65535 , 65535") plus spaces; RFC 1413 servers accept up to 1000.
	MaxLineBytes = 1000
	// maxUserBytes bounds the user id we answer with (RFC 1413: 512).
	maxUserBytes = 512
)

// Config configures a Server.
type Config struct {
	// Addr is the TCP address to listen on: ":113" in production (which
	// needs CAP_NET_BIND_SERVICE), "127.0.0.1:0" in tests.
	Addr string
	// Logger receives debug logs of queries and answers; nil discards them.
	Logger *slog.Logger
	// MaxConns bounds the connections served at once (default 64).
	MaxConns int
	// Timeout bounds the time a querier has to send its query, and the
	// write of the answer (default 10s).
	Timeout time.Duration
	// Grace is how long a query for a pair nobody registered waits for a
	// Register before the NO-USER answer (default 1s; negative: no wait).
	Grace time.Duration
}

// Server is an RFC 1413 server. Create it with New, run it with Serve.
// Register and its unregister functions are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	ln  net.Listener
	sem chan struct{}

	mu      sync.Mutex
	entries map[portPair][]*entry
	changed chan struct{} // closed and replaced by each Register
	conns   map[net.Conn]struct{}
	closed  bool

	wg sync.WaitGroup
}

type portPair struct{ local, remote uint16 }

type entry struct {
	remote netip.Addr
	user   string
}

// New listens on cfg.Addr. The caller runs Serve, or Close to give up.
func New(cfg Config) (*Server, error) {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("identd: %w", err)
	}
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		ln:      ln,
		sem:     make(chan struct{}, cfg.MaxConns),
		entries: make(map[portPair][]*entry),
		changed: make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}, nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Register records that the gateway's connection from local to remote
// belongs to user, until the returned function is called (it may be called
// more than once). CR, LF and NUL are removed from user, and it is cut to
// 512 bytes.
func (s *Server) Register(local, remote netip.AddrPort, user string) (unregister func()) {
	user = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, user)
	if len(user) > maxUserBytes {
		user = user[:maxUserBytes]
	}
	key := portPair{local.Port(), remote.Port()}
	e := &entry{remote: remote.Addr().Unmap(), user: user}
	s.mu.Lock()
	s.entries[key] = append(s.entries[key], e)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			list := s.entries[key]
			for i, x := range list {
				if x == e {
					list = append(list[:i:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(s.entries, key)
			} else {
				s.entries[key] = list
			}
		})
	}
}

// lookup returns the user of the connection with these ports whose remote
// end is querier, waiting up to Grace (and no later than deadline) for it to
// be registered.
func (s *Server) lookup(local, remote uint16, querier netip.Addr, deadline time.Time) (string, bool) {
	var timer *time.Timer
	for {
		s.mu.Lock()
		for _, e := range s.entries[portPair{local, remote}] {
			if e.remote == querier {
				s.mu.Unlock()
				return e.user, true
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if timer == nil {
			wait := min(s.cfg.Grace, time.Until(deadline))
			if wait <= 0 {
				return "", false
			}
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
			return "", false
		}
	}
}

// Serve accepts and answers queries until ctx is done or Close is called,
// then closes the listener and every open connection, waits for their
// goroutines and returns nil. Another accept failure is returned.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	defer s.wg.Wait()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.Close()
			return fmt.Errorf("identd: accept: %w", err)
		}
		select {
		case s.sem <- struct{}{}:
		default:
			// Too many queriers at once: no answer rather than a queue.
			s.log.Debug("identd: too many connections; closing one", "from", nc.RemoteAddr())
			nc.Close()
			continue
		}
		if !s.track(nc) {
			<-s.sem
			nc.Close()
			return nil
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			defer s.untrack(nc)
			s.serveConn(nc)
		}()
	}
}

func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	return true
}

func (s *Server) untrack(nc net.Conn) {
	nc.Close()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

// Close stops the listener and closes the open connections. Serve then
// returns.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	return s.ln.Close()
}

// serveConn reads one query and answers it.
func (s *Server) serveConn(nc net.Conn) {
	from, _ := nc.RemoteAddr().(*net.TCPAddr)
	if from == nil {
		return
	}
	querier := from.AddrPort().Addr().Unmap()
	deadline := time.Now().Add(s.cfg.Timeout)
	if err := nc.SetDeadline(deadline); err != nil {
		return
	}
	line, err := readLine(nc)
	if err != nil {
		s.log.Debug("identd: no query", "from", querier, "err", err)
		return
	}
	local, remote, raw, perr := parseQuery(line)
	var answer string
	switch {
	case perr == errGarbage:
		s.log.Debug("identd: malformed query", "from", querier, "query", strconv.Quote(line))
		return
	case perr != nil:
		answer = fmt.Sprintf("%s , %s : ERROR : INVALID-PORT", raw[0], raw[1])
	default:
		if user, ok := s.lookup(local, remote, querier, deadline); ok {
			answer = fmt.Sprintf("%d , %d : USERID : OTHER : %s", local, remote, user)
		} else {
			answer = fmt.Sprintf("%d , %d : ERROR : NO-USER", local, remote)
		}
	}
	s.log.Debug("identd: query", "from", querier, "query", strconv.Quote(line), "answer", answer)
	_, _ = nc.Write([]byte(answer + "\r\n"))
}

// readLine reads up to LF (CR LF or LF) within MaxLineBytes. A querier that
// closes after a query without a line ending still gets its answer.
func readLine(nc net.Conn) (string, error) {
	r := bufio.NewReaderSize(nc, 64)
	var buf []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if len(buf) > 0 && errors.Is(err, io.EOF) {
				return string(buf), nil
			}
			return "", err
		}
		if b == '\n' {
			return string(bytes.TrimSuffix(buf, []byte("\r"))), nil
		}
		if len(buf) >= MaxLineBytes {
			return "", errors.New("query line too long")
		}
		buf = append(buf, b)
	}
}

var (
	// errGarbage: the line is not "<number> , <number>"; it gets no answer.
	errGarbage = errors.New("not a port pair")
	// errInvalidPort: numbers out of 1..65535; answered INVALID-PORT.
	errInvalidPort = errors.New("invalid port")
)

// parseQuery parses "<local> , <remote>" with optional spaces and tabs; raw
// holds the two numbers as written.
func parseQuery(line string) (local, remote uint16, raw [2]string, err error) {
	a, b, ok := strings.Cut(line, ",")
	if !ok {
		return 0, 0, raw, errGarbage
	}
	a, b = strings.Trim(a, " \t"), strings.Trim(b, " \t")
	if !digits(a) || !digits(b) {
		return 0, 0, raw, errGarbage
	}
	raw = [2]string{a, b}
	l, err1 := strconv.ParseUint(a, 10, 16)
	r, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil || l == 0 || r == 0 {
		return 0, 0, raw, errInvalidPort
	}
	return uint16(l), uint16(r), raw, nil
}

func digits(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
