package ircclient

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// startWriter starts a writer goroutine when lines wait and none runs.
// c.mu is held. There is no writer before the socket is established (the
// connection's goroutine starts one with the registration lines), nor once
// the connection is closing, except to flush the lines before QUIT.
func (c *Conn) startWriter() {
	if c.writing || c.ended || c.netConn == nil || c.ctx.Err() != nil || len(c.ctrl)+len(c.queue) == 0 {
		return
	}
	c.writing = true
	c.wg.Add(1)
	go c.writeLoop(c.netConn)
}

// writeLoop is the writer goroutine, the only one writing to the socket. It
// runs while lines wait and exits once the queues are empty.
// The connection's own lines (registration, PONG, PING, CAP) go before the
// queued ones; queued lines from Send pass Config.Limiter first, until Quit
// is called: from then on the queue is flushed unthrottled up to the QUIT.
func (c *Conn) writeLoop(nc net.Conn) {
	defer c.wg.Done()
	for {
		l, ok := c.nextLine()
		if !ok {
			return
		}
		if l.throttle && c.cfg.Limiter != nil {
			if ctx := c.limiterContext(); ctx != nil {
				if err := c.cfg.Limiter.Wait(ctx); err != nil {
					if c.ctx.Err() != nil {
						c.stopWriting()
						return
					}
					if ctx.Err() == nil {
						c.log.Warn("send limiter failed; sending anyway", "err", err)
					}
				}
			}
		}
		err := nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
		if err == nil {
			_, err = nc.Write(l.b)
		}
		if err != nil {
			c.fail(fmt.Errorf("ircclient: write: %w", err), StrError(err))
			c.stopWriting()
			return
		}
		if c.log.Enabled(c.ctx, levelTrace) {
			c.log.Log(c.ctx, levelTrace, "irc send", "line", redact(l.b))
		}
	}
}

// nextLine takes the next line to write: a control line if any, else a
// queued one. When there is none, or the connection is closing without
// QUIT, it returns false and the writer must exit: it is no longer counted
// as running.
func (c *Conn) nextLine() (outLine, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		c.stopWritingLocked()
		return outLine{}, false
	}
	if len(c.ctrl) > 0 {
		l := c.ctrl[0]
		c.ctrl = pop(c.ctrl)
		if c.ctrlRoom != nil {
			close(c.ctrlRoom)
			c.ctrlRoom = nil
		}
		return l, true
	}
	if len(c.queue) > 0 {
		l := c.queue[0]
		c.queue = pop(c.queue)
		return l, true
	}
	c.stopWritingLocked()
	return outLine{}, false
}

// pop removes the first line of q. The backing array is released as soon
// as q is empty.
func pop(q []outLine) []outLine {
	q[0] = outLine{}
	if len(q) == 1 {
		return nil
	}
	return q[1:]
}

// limiterContext returns the context for Config.Limiter, or nil when lines
// are no longer throttled (after Quit).
func (c *Conn) limiterContext() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.quitting {
		return nil
	}
	if c.limitCtx == nil {
		c.limitCtx, c.limitCancel = context.WithCancel(c.ctx)
	}
	return c.limitCtx
}

// stopWriting records that the writer exits.
func (c *Conn) stopWriting() {
	c.mu.Lock()
	c.stopWritingLocked()
	c.mu.Unlock()
}

func (c *Conn) stopWritingLocked() {
	c.writing = false
	if c.limitCancel != nil {
		c.limitCancel()
		c.limitCtx, c.limitCancel = nil, nil
	}
	if c.ctx.Err() != nil {
		// Nothing more will be written: release the lines.
		c.ctrl, c.queue = nil, nil
	}
}

// levelTrace logs every line read and written: below Debug, as it is very
// verbose.
const levelTrace = slog.LevelDebug - 4

// redact hides the secrets of PASS, AUTHENTICATE and WEBIRC lines from
// logs (WEBIRC keeps its gateway, hostname and IP).
func redact(b []byte) string {
	b = bytes.TrimRight(b, "\r\n")
	for _, cmd := range []string{"PASS ", "AUTHENTICATE "} {
		if bytes.HasPrefix(b, []byte(cmd)) {
			return cmd + "<redacted>"
		}
	}
	if rest, ok := bytes.CutPrefix(b, []byte("WEBIRC ")); ok {
		_, after, _ := bytes.Cut(rest, []byte(" "))
		return "WEBIRC <redacted> " + string(after)
	}
	return string(b)
}
