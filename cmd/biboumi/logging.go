package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// logging owns the program's logger: its level can change and its file can
// be reopened (for logrotate) on reload.
type logging struct {
	level  slog.LevelVar
	logger *slog.Logger

	mu   sync.Mutex
	path string
	file *os.File
	out  io.Writer // where records go when path is empty
}

func newLogging(cfg *Config, stderr io.Writer) (*logging, error) {
	l := &logging{out: stderr}
	l.level.Set(cfg.LogLevel)
	if err := l.open(cfg.LogFile); err != nil {
		return nil, err
	}
	text := slog.NewTextHandler(writerFunc(l.write), &slog.HandlerOptions{Level: &l.level})
	l.logger = slog.New(l.handlerFor(stderr, text)) // journal.go
	return l, nil
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (l *logging) write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		return l.file.Write(p)
	}
	return l.out.Write(p)
}

// open switches the output to path (appending, created 0600), or to the
// standard error when path is empty.
func (l *logging) open(path string) error {
	var f *os.File
	if path != "" {
		var err error
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("log_file: %w", err)
		}
	}
	l.mu.Lock()
	old := l.file
	l.file, l.path = f, path
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Apply takes the logging settings of a reloaded configuration.
func (l *logging) Apply(cfg *Config) error {
	l.level.Set(cfg.LogLevel)
	return l.open(cfg.LogFile)
}

// Logger returns the program's logger.
func (l *logging) Logger() *slog.Logger { return l.logger }

// Close closes the log file, if any.
func (l *logging) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}
