package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"
)

// Copy copies the settings (global, server and channel options, roster) and
// the whole archive of src into dst, then verifies the result. It is the
// engine of cmd/biboumi-migrate.
//
// Settings are upserted: the source's values replace the destination's.
// Log lines keep their IDs (clients saw them as MAM ids and stanza-ids) and
// are stored in source order, so the destination's archive order follows
// the source's. A line whose ID is already archived is not stored twice, so
// running Copy again copies nothing new.
//
// With a LogImporter destination (sqlstore), each batch of lines is stored
// together with the progress of the copy, keyed by src.SourceID(), in one
// transaction; a copy that was interrupted (ctx cancelled, process killed)
// resumes after the last batch that committed. Reading the next batch
// overlaps with storing the current one.
//
// Verification compares the number of source rows in the copied range with
// what the copy handled, and (unless opts.QuickVerify) reads the source
// again to check that each of its lines is archived in dst with the same
// content. A failed check, and lines refused because their ID is archived
// with other content, make Copy return an error wrapping ErrCopyMismatch,
// after copying everything it could. Source rows that cannot be converted
// (an owner that is not a JID) are skipped and reported, never fatal.
//
// The report is returned even with an error, and then says how far the
// copy got.
func Copy(ctx context.Context, dst Store, src CopySource, opts CopyOptions) (*CopyReport, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultCopyBatch
	}
	c := &copier{
		dst:  dst,
		src:  src,
		opts: opts,
		report: &CopyReport{
			Source:   src.SourceID(),
			DryRun:   opts.DryRun,
			Verified: -1,
		},
	}
	if !opts.DryRun {
		if dst == nil {
			return c.report, errors.New("store: copy: no destination")
		}
		c.imp, _ = dst.(LogImporter)
	}
	if err := c.settings(ctx); err != nil {
		return c.report, err
	}
	if err := c.logs(ctx); err != nil {
		return c.report, err
	}
	if opts.DryRun {
		return c.report, nil
	}
	if err := c.verify(ctx); err != nil {
		return c.report, err
	}
	if len(c.mismatches) > 0 {
		return c.report, fmt.Errorf("%w:\n  %s", ErrCopyMismatch, strings.Join(c.mismatches, "\n  "))
	}
	return c.report, nil
}

// copier is the state of one Copy call; only its goroutine uses it.
type copier struct {
	dst    Store
	imp    LogImporter // dst's, or nil (fallback, or dry run)
	src    CopySource
	opts   CopyOptions
	report *CopyReport
	// mismatches are the verification failures, for the final error.
	mismatches []string
}

func (c *copier) status(phase CopyPhase, done, total int64, final bool) {
	if c.opts.Progress != nil {
		c.opts.Progress(CopyStatus{Phase: phase, Done: done, Total: total, Final: final})
	}
}

func (c *copier) mismatch(format string, args ...any) {
	c.mismatches = append(c.mismatches, fmt.Sprintf(format, args...))
}

// settings copies and verifies the options and the roster.
func (c *copier) settings(ctx context.Context) error {
	s, err := c.src.ScanSettings(ctx)
	if err != nil {
		return fmt.Errorf("store: copy: reading the settings: %w", err)
	}
	r := c.report
	r.SettingsSkipped, r.SettingsRepaired = s.Skipped, s.Repaired
	r.Global, r.Servers, r.Channels, r.Roster = len(s.Global), len(s.Servers), len(s.Channels), len(s.Roster)
	r.Kept, r.Certs = len(s.Kept), len(s.Certs)
	total := int64(r.Global + r.Servers + r.Channels + r.Roster + r.Kept + r.Certs)
	c.status(PhaseSettings, 0, total, false)
	if c.opts.DryRun {
		c.status(PhaseSettings, total, total, true)
		return nil
	}
	var done int64
	step := func(what string, owner jid.JID, err error) error {
		if err != nil {
			return fmt.Errorf("store: copy: storing %s of %s: %w", what, owner, err)
		}
		done++
		return nil
	}
	for _, o := range s.Global {
		if err := step("global options", o.Owner, c.dst.StoreGlobalOptions(ctx, o)); err != nil {
			return err
		}
	}
	for _, o := range s.Servers {
		if err := step("options of server "+o.Server, o.Owner, c.dst.StoreServerOptions(ctx, o)); err != nil {
			return err
		}
	}
	for _, o := range s.Channels {
		if err := step("options of channel "+o.Channel, o.Owner, c.dst.StoreChannelOptions(ctx, o)); err != nil {
			return err
		}
	}
	for _, it := range s.Roster {
		if err := step("roster item "+it.Local.String(), it.Remote, c.dst.AddRosterItem(ctx, it.Local, it.Remote)); err != nil {
			return err
		}
	}
	for _, k := range s.Kept {
		if err := step("kept channel "+k.Channel, k.Owner, c.dst.KeepChannel(ctx, k)); err != nil {
			return err
		}
	}
	for _, cert := range s.Certs {
		err := c.dst.StoreClientCert(ctx, cert.Owner, cert.CertPEM, cert.KeyPEM)
		if errors.Is(err, ErrConflict) {
			// The destination made its own; verifySettings reports it if
			// it differs, and keeps it: the IRC servers may know it.
			err = nil
		}
		if err := step("client certificate", cert.Owner, err); err != nil {
			return err
		}
	}
	c.status(PhaseSettings, done, total, true)
	return c.verifySettings(ctx, s)
}

// verifySettings reads every copied settings record back from dst.
func (c *copier) verifySettings(ctx context.Context, s *Settings) error {
	bad := 0
	for _, want := range s.Global {
		got, err := c.dst.GlobalOptions(ctx, want.Owner)
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		if !sameSettings(got, want) {
			bad++
		}
	}
	for _, want := range s.Servers {
		got, err := c.dst.ServerOptions(ctx, want.Owner, want.Server)
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		if !sameSettings(got, want) {
			bad++
		}
	}
	for _, want := range s.Channels {
		got, err := c.dst.ChannelOptions(ctx, want.Owner, want.Server, want.Channel)
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		if !sameSettings(got, want) {
			bad++
		}
	}
	if bad > 0 {
		c.mismatch("%d copied option rows read back different from the source", bad)
	}
	if len(s.Kept) > 0 {
		kept, err := c.dst.KeptChannels(ctx)
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		have := make(map[string]bool, len(kept))
		for _, k := range kept {
			have[k.Owner.Bare().String()+" "+k.Server+" "+k.Channel] = true
		}
		missing := 0
		for _, k := range s.Kept {
			if !have[k.Owner.Bare().String()+" "+k.Server+" "+k.Channel] {
				missing++
			}
		}
		if missing > 0 {
			c.mismatch("%d copied kept channels are missing in the destination", missing)
		}
	}
	differ := 0
	for _, want := range s.Certs {
		cert, key, err := c.dst.ClientCert(ctx, want.Owner)
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		if !bytes.Equal(cert, want.CertPEM) || !bytes.Equal(key, want.KeyPEM) {
			differ++
		}
	}
	if differ > 0 {
		c.mismatch("%d client certificates differ in the destination, which made its own (kept there: the IRC servers may know them)", differ)
	}
	if len(s.Roster) > 0 {
		items, err := c.dst.Roster(ctx, RosterQuery{})
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		have := make(map[[2]string]bool, len(items))
		for _, it := range items {
			have[[2]string{it.Local.String(), it.Remote.String()}] = true
		}
		missing := 0
		for _, it := range s.Roster {
			if !have[[2]string{it.Local.Bare().String(), it.Remote.Bare().String()}] {
				missing++
			}
		}
		if missing > 0 {
			c.mismatch("%d copied roster items are missing in the destination", missing)
		}
	}
	return nil
}

// sameSettings compares two option records of one type. A nil and an
// empty list are the same; JIDs compare by value.
func sameSettings[T GlobalOptions | ServerOptions | ChannelOptions](a, b T) bool {
	switch a := any(a).(type) {
	case ServerOptions:
		b := any(b).(ServerOptions)
		if !a.Owner.Equal(b.Owner) || !slices.Equal(a.Ports, b.Ports) || !slices.Equal(a.TLSPorts, b.TLSPorts) ||
			!slices.Equal(a.AfterConnectCommands, b.AfterConnectCommands) {
			return false
		}
		// Stored is not a stored value.
		a.Owner, a.Ports, a.TLSPorts, a.AfterConnectCommands, a.Stored = jid.JID{}, nil, nil, nil, false
		b.Owner, b.Ports, b.TLSPorts, b.AfterConnectCommands, b.Stored = jid.JID{}, nil, nil, nil, false
		return reflect.DeepEqual(a, b)
	case GlobalOptions:
		b := any(b).(GlobalOptions)
		return a.Owner.Equal(b.Owner) && a.MaxHistoryLength == b.MaxHistoryLength &&
			a.RecordHistory == b.RecordHistory && a.Persistent == b.Persistent
	case ChannelOptions:
		b := any(b).(ChannelOptions)
		if !a.Owner.Equal(b.Owner) {
			return false
		}
		a.Owner, b.Owner = jid.JID{}, jid.JID{}
		return reflect.DeepEqual(a, b)
	}
	return false
}

// logs copies the archive, resuming after the recorded progress.
func (c *copier) logs(ctx context.Context) error {
	r := c.report
	prog := CopyProgress{Source: r.Source}
	if c.imp != nil {
		if c.opts.Rescan {
			if err := c.imp.ResetCopyProgress(ctx, r.Source); err != nil {
				return fmt.Errorf("store: copy: %w", err)
			}
		}
		var err error
		if prog, err = c.imp.CopyProgress(ctx, r.Source); err != nil {
			return fmt.Errorf("store: copy: %w", err)
		}
	}
	r.ResumedAfter = prog.LastSrcID
	r.Progress = prog
	r.Run = CopyProgress{Source: r.Source, LastSrcID: prog.LastSrcID}
	total, err := c.src.CountLogs(ctx, prog.LastSrcID, 0)
	if err != nil {
		return fmt.Errorf("store: copy: counting the source's log lines: %w", err)
	}
	c.status(PhaseLogs, 0, total, false)

	err = c.pipeline(ctx, prog.LastSrcID, 0, func(b *LogBatch) error {
		var imported int64
		var conflicts []string
		switch {
		case c.opts.DryRun:
			imported = int64(len(b.Lines)) // would be
		case c.imp != nil:
			res, err := c.imp.ImportLogs(ctx, r.Source, b)
			if err != nil {
				return fmt.Errorf("store: copy: storing source lines %d to %d: %w", b.After+1, b.Last, err)
			}
			imported, conflicts = res.Imported, res.Conflicts
			r.Progress = res.Progress
		default:
			var err error
			if imported, conflicts, err = c.appendLogs(ctx, b); err != nil {
				return fmt.Errorf("store: copy: storing source lines %d to %d: %w", b.After+1, b.Last, err)
			}
		}
		r.Run = r.Run.Advance(b, imported, int64(len(conflicts)))
		if c.imp == nil {
			r.Progress = r.Run
		}
		r.NewIDs += b.NewIDs
		r.SkippedLogs = appendCapped(r.SkippedLogs, b.Skipped...)
		r.ConflictIDs = appendCapped(r.ConflictIDs, conflicts...)
		c.status(PhaseLogs, r.Run.Rows, total, false)
		return nil
	})
	if err != nil {
		return err
	}
	c.status(PhaseLogs, r.Run.Rows, total, true)
	return nil
}

func appendCapped[T any](list []T, items ...T) []T {
	if n := maxReported - len(list); n < len(items) {
		items = items[:max(n, 0)]
	}
	return append(list, items...)
}

// appendLogs stores a batch through Store.AppendLogs, for destinations
// without a LogImporter. AppendLogs treats a line archived already with the
// same content as stored, so such lines count as imported.
func (c *copier) appendLogs(ctx context.Context, b *LogBatch) (imported int64, conflicts []string, err error) {
	lines := make([]*LogLine, len(b.Lines))
	for i := range b.Lines {
		l := b.Lines[i].Line
		lines[i] = &l
	}
	err = c.dst.AppendLogs(ctx, lines)
	if err == nil || !errors.Is(err, ErrConflict) {
		return int64(len(lines)), nil, err
	}
	// Find the conflicting lines one by one.
	for _, l := range lines {
		err := c.dst.AppendLog(ctx, l)
		switch {
		case errors.Is(err, ErrConflict):
			conflicts = append(conflicts, l.ID)
		case err != nil:
			return 0, nil, err
		default:
			imported++
		}
	}
	return imported, conflicts, nil
}

// pipeline runs src.ScanLogs on a second goroutine, so that reading the
// next batch overlaps with f storing the current one, and calls f with
// each batch in order. At most two batches wait. It returns the first
// error of f or of the scan, after the scanning goroutine has ended.
func (c *copier) pipeline(ctx context.Context, after, upTo int64, f func(*LogBatch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *LogBatch, 2)
	scanErr := make(chan error, 1)
	go func() {
		defer close(batches)
		scanErr <- c.src.ScanLogs(ctx, after, upTo, c.opts.BatchSize, func(b *LogBatch) error {
			select {
			case batches <- b:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var err error
	for b := range batches { // drain until the scanner has ended
		if err == nil {
			if err = f(b); err != nil {
				cancel()
			}
		}
	}
	if serr := <-scanErr; err == nil && serr != nil {
		err = fmt.Errorf("store: copy: reading the source's log lines: %w", serr)
	}
	return err
}

// verify checks the copied archive against the source.
func (c *copier) verify(ctx context.Context) error {
	r := c.report
	prog := r.Progress
	if prog.LastSrcID > 0 {
		n, err := c.src.CountLogs(ctx, 0, prog.LastSrcID)
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		r.SourceRows = n
	}
	switch {
	case r.SourceRows > prog.Rows:
		c.mismatch("the source holds %d log rows up to id %d but only %d were copied: rows appeared below the copied range "+
			"(written by a Biboumi still running, or ids reused); run the copy again with rescan", r.SourceRows, prog.LastSrcID, prog.Rows)
	case r.SourceRows < prog.Rows:
		c.mismatch("the source holds %d log rows up to id %d but %d were copied: rows were deleted from the source since; "+
			"run the copy again with rescan to recount", r.SourceRows, prog.LastSrcID, prog.Rows)
	}
	if prog.Conflicts > 0 {
		ids := ""
		if len(r.ConflictIDs) > 0 {
			ids = " (IDs: " + strings.Join(r.ConflictIDs, ", ") + ")"
		}
		c.mismatch("%d log lines were not copied because their ID is archived with other content%s",
			prog.Conflicts, ids)
	}
	if c.opts.QuickVerify || c.imp == nil || prog.LastSrcID == 0 {
		return nil
	}
	var lines, found int64
	total := prog.Rows
	c.status(PhaseVerify, 0, total, false)
	var rows int64
	err := c.pipeline(ctx, 0, prog.LastSrcID, func(b *LogBatch) error {
		n, err := c.imp.CountCopiedLogs(ctx, b.Lines)
		if err != nil {
			return fmt.Errorf("store: copy: verifying: %w", err)
		}
		found += n
		lines += int64(len(b.Lines))
		rows += b.Rows
		c.status(PhaseVerify, rows, total, false)
		return nil
	})
	if err != nil {
		return err
	}
	c.status(PhaseVerify, rows, total, true)
	r.Verified = found
	if found != lines {
		c.mismatch("%d of the %d source log lines up to id %d are missing in the destination or differ there",
			lines-found, lines, prog.LastSrcID)
	}
	return nil
}
