package ircbridge

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"biboumi/store"
)

// Archive-writer tunables. Lines are written in one transaction per batch
// (group commit): one fsync for many lines instead of one per line, which
// is what makes fan-out to many users cheap.
const (
	archiveBatch    = 256                    // lines per transaction at most
	archiveInterval = 20 * time.Millisecond  // longest a line waits before its batch is written
	archiveQueue    = 65536                  // lines waiting at most; beyond, appends block briefly
	archiveRetryFor = 5 * time.Minute        // a batch is retried this long (a database restart) before it is given up
	archiveBackoff  = 200 * time.Millisecond // first delay between attempts, doubled up to archiveMaxDelay
	archiveMaxDelay = 5 * time.Second
	archiveStopWait = 5 * time.Second // at shutdown, how long a failing batch is still retried
	archiveFullWait = time.Second     // how long an append waits for room before the line is dropped
)

// archiver writes log lines to the store from its own goroutine, in
// batches. Its ids are chosen by the caller, so the stanza-id of a live
// message is known before the line is written.
//
// append is safe for concurrent use; close flushes what is queued.
type archiver struct {
	st  store.Store
	log *slog.Logger
	in  chan archItem

	closeOnce sync.Once
	stopping  chan struct{} // closed by close: failing batches give up sooner
	done      chan struct{}
}

// archItem is a line to write, or a barrier: a channel closed once every
// line queued before it is written.
type archItem struct {
	line    *store.LogLine
	barrier chan struct{}
}

func newArchiver(st store.Store, log *slog.Logger) *archiver {
	a := &archiver{st: st, log: log, in: make(chan archItem, archiveQueue), done: make(chan struct{}), stopping: make(chan struct{})}
	go a.run()
	return a
}

// append queues l. It blocks only when the queue is full (the database is
// far behind), and gives up when ctx ends.
func (a *archiver) append(ctx context.Context, l *store.LogLine) {
	select {
	case a.in <- archItem{line: l}:
		return
	default:
	}
	// The database is far behind (down for long, or its disk is full):
	// wait a little, then drop the line rather than stop the live relay.
	t := time.NewTimer(archiveFullWait)
	defer t.Stop()
	select {
	case a.in <- archItem{line: l}:
	case <-t.C:
		a.log.Error("archive queue full: line not archived", "queued", archiveQueue)
	case <-ctx.Done():
		a.log.Error("archive line dropped", "err", ctx.Err())
	}
}

// sync waits until every line appended before it is written (or given
// up), so that a read sees every id a client has already been sent: the
// batching delays writes, never what reads can see. It only costs reads.
func (a *archiver) sync(ctx context.Context) {
	b := make(chan struct{})
	select {
	case a.in <- archItem{barrier: b}:
	case <-ctx.Done():
		return
	}
	select {
	case <-b:
	case <-ctx.Done():
	}
}

// close writes what is queued and stops the goroutine.
func (a *archiver) close() {
	a.closeOnce.Do(func() { close(a.stopping); close(a.in) })
	<-a.done
}

func (a *archiver) run() {
	defer close(a.done)
	batch := make([]*store.LogLine, 0, archiveBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case it, ok := <-a.in:
			if !ok {
				a.write(batch)
				return
			}
			if it.barrier != nil {
				timer.Stop()
				a.write(batch)
				batch = batch[:0]
				close(it.barrier)
				continue
			}
			if len(batch) == 0 {
				timer.Reset(archiveInterval)
			}
			batch = append(batch, it.line)
			if len(batch) < archiveBatch {
				continue
			}
			timer.Stop()
		case <-timer.C:
		}
		a.write(batch)
		batch = batch[:0]
	}
}

// write stores one batch, retrying transient failures: lines carry their
// own ids, so a retry after an uncertain commit writes nothing twice.
func (a *archiver) write(batch []*store.LogLine) {
	if len(batch) == 0 {
		return
	}
	delay := archiveBackoff
	giveUp := time.Now().Add(archiveRetryFor)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.st.AppendLogs(ctx, batch)
		cancel()
		if err == nil {
			if attempt > 1 {
				a.log.Info("archive write succeeded after retries", "lines", len(batch), "attempts", attempt)
			}
			return
		}
		select {
		case <-a.stopping:
			// Shutting down: do not hold the exit for long.
			if stop := time.Now().Add(archiveStopWait); stop.Before(giveUp) {
				giveUp = stop
			}
		default:
		}
		if time.Now().Add(delay).After(giveUp) {
			a.log.Error("archive write failed, lines lost", "lines", len(batch), "attempts", attempt, "err", err)
			return
		}
		a.log.Warn("archive write failed, retrying", "lines", len(batch), "attempt", attempt, "in", delay, "err", err)
		time.Sleep(delay)
		delay = min(2*delay, archiveMaxDelay)
	}
}
