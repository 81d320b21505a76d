package ircclient

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// writeLoop is the writer goroutine, the only one writing to the socket.
// The connection's own lines (registration, PONG, PING, CAP) go before the
// queued ones; queued lines from Send pass Config.Limiter first, until Quit
// is called: from then on the queue is flushed unthrottled up to the QUIT.
func (c *Conn) writeLoop(nc net.Conn) {
	defer c.wg.Done()
	for {
		var l outLine
		select {
		case l = <-c.ctrl:
		default:
			select {
			case <-c.ctx.Done():
				return
			case l = <-c.ctrl:
			case l = <-c.queue:
			}
		}
		if l.throttle && c.cfg.Limiter != nil {
			if err := c.cfg.Limiter.Wait(c.quitCtx); err != nil {
				if c.ctx.Err() != nil {
					return
				}
				if c.quitCtx.Err() == nil {
					c.log.Warn("send limiter failed; sending anyway", "err", err)
				}
			}
		}
		if err := nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout)); err != nil {
			c.fail(fmt.Errorf("ircclient: write: %w", err), StrError(err))
			return
		}
		if _, err := nc.Write(l.b); err != nil {
			c.fail(fmt.Errorf("ircclient: write: %w", err), StrError(err))
			return
		}
		if c.log.Enabled(c.ctx, levelTrace) {
			c.log.Log(c.ctx, levelTrace, "irc send", "line", redact(l.b))
		}
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
