package main

// Logging to the systemd journal. Under systemd the standard error is a
// stream to journald, which stamps each line with its own time and reads a
// "<N>" syslog priority prefix (sd-daemon(3)). systemd says so by setting
// $JOURNAL_STREAM to the device and inode of that stream; we check that
// it still is our standard error (a child of the service with its output
// redirected would inherit the variable without the stream).

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// isJournalStream reports whether f is the stream named by journalStream,
// the value of $JOURNAL_STREAM ("DEVICE:INODE", in decimal).
func isJournalStream(f *os.File, journalStream string) bool {
	devS, inoS, ok := strings.Cut(journalStream, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// handlerFor returns the program's slog handler: text, as always, unless
// the standard error is the journal; then records go to the journal in its
// format while no log_file is set, and as text to the file when one is.
func (l *logging) handlerFor(stderr io.Writer, text slog.Handler) slog.Handler {
	f, ok := stderr.(*os.File)
	if !ok || !isJournalStream(f, os.Getenv("JOURNAL_STREAM")) {
		return text
	}
	journal := &journalHandler{w: writerFunc(l.writeStderr), level: &l.level}
	return &destHandler{l: l, file: text, journal: journal}
}

// writeStderr writes to the standard error, whatever log_file says.
func (l *logging) writeStderr(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.Write(p)
}

// hasFile reports whether records currently go to a log_file.
func (l *logging) hasFile() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file != nil
}

// destHandler sends each record to the journal handler or, while a log
// file is open, to the text handler.
type destHandler struct {
	l             *logging
	file, journal slog.Handler
}

func (h *destHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return lv >= h.l.level.Level()
}

func (h *destHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.l.hasFile() {
		return h.file.Handle(ctx, r)
	}
	return h.journal.Handle(ctx, r)
}

func (h *destHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &destHandler{l: h.l, file: h.file.WithAttrs(as), journal: h.journal.WithAttrs(as)}
}

func (h *destHandler) WithGroup(name string) slog.Handler {
	return &destHandler{l: h.l, file: h.file.WithGroup(name), journal: h.journal.WithGroup(name)}
}

// journalHandler writes one line per record: "<N>message key=value …",
// where N is the syslog priority, without a time (journald adds its own).
// The attributes are formatted by slog's text handler, so quoting is the
// same as in a log file.
type journalHandler struct {
	w     io.Writer
	level slog.Leveler
	// ops are the WithAttrs and WithGroup calls, in order, replayed on the
	// text handler that formats each record's attributes.
	ops []func(slog.Handler) slog.Handler
}

// syslogPriority maps a slog level to a syslog priority: debug 7, info 6,
// warn 4 (warning), error 3 (err).
func syslogPriority(lv slog.Level) int {
	switch {
	case lv < slog.LevelInfo:
		return 7
	case lv < slog.LevelWarn:
		return 6
	case lv < slog.LevelError:
		return 4
	default:
		return 3
	}
}

// dropBuiltins removes the time, level and message that the text handler
// would write: the prefix and journald carry them.
func dropBuiltins(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
		return slog.Attr{}
	}
	return a
}

func (h *journalHandler) Enabled(_ context.Context, lv slog.Level) bool {
	return lv >= h.level.Level()
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	var attrs bytes.Buffer
	var th slog.Handler = slog.NewTextHandler(&attrs, &slog.HandlerOptions{Level: slog.Level(-1 << 10), ReplaceAttr: dropBuiltins})
	for _, op := range h.ops {
		th = op(th)
	}
	bare := slog.NewRecord(time.Time{}, r.Level, "", 0)
	r.Attrs(func(a slog.Attr) bool {
		bare.AddAttrs(a)
		return true
	})
	if err := th.Handle(ctx, bare); err != nil {
		return err
	}
	var line bytes.Buffer
	line.WriteByte('<')
	line.WriteString(strconv.Itoa(syslogPriority(r.Level)))
	line.WriteByte('>')
	// One record, one journal entry: a newline would start another.
	line.WriteString(strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(r.Message))
	if a := bytes.TrimRight(attrs.Bytes(), "\n"); len(a) > 0 {
		line.WriteByte(' ')
		line.Write(a)
	}
	line.WriteByte('\n')
	_, err := h.w.Write(line.Bytes())
	return err
}

func (h *journalHandler) with(op func(slog.Handler) slog.Handler) *journalHandler {
	ops := append(h.ops[:len(h.ops):len(h.ops)], op)
	return &journalHandler{w: h.w, level: h.level, ops: ops}
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	return h.with(func(th slog.Handler) slog.Handler { return th.WithAttrs(as) })
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(func(th slog.Handler) slog.Handler { return th.WithGroup(name) })
}
