package ircbridge

import (
	"context"
	"time"
)

// PurgeArchive deletes the archived lines older than keep, for every user.
// The archive writer is independent of it, so live traffic never waits for
// a purge (lines queued meanwhile are written after it).
func (g *Gateway) PurgeArchive(ctx context.Context, keep time.Duration) (int64, error) {
	if g.store == nil || keep <= 0 {
		return 0, nil
	}
	return g.store.PurgeLogs(ctx, time.Now().Add(-keep))
}

// RunRetention purges the archive of lines older than the configured
// Retention now and then every interval, until ctx ends. The retention is
// read at each purge, so a reload changes it; 0 keeps everything.
func (g *Gateway) RunRetention(ctx context.Context, interval time.Duration) {
	if g.store == nil {
		return
	}
	log := g.cfg.Load().Logger.With("part", "retention")
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if keep := g.cfg.Load().Retention; keep > 0 {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			n, err := g.PurgeArchive(pctx, keep)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("purging the archive", "err", err)
			case n > 0:
				log.Info("archive purged", "lines", n, "older_than", keep.String())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
