package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// fakeSource serves rows 1…rows in batches; every tenth row is skipped.
type fakeSource struct {
	rows     int64
	extra    int64 // added to CountLogs, to fake rows appearing in the source
	failAt   int64 // ScanLogs fails when it reaches this id
	stopped  chan error
	settings Settings
}

func (s *fakeSource) SourceID() string { return "fake" }

func (s *fakeSource) CountLogs(_ context.Context, after, upTo int64) (int64, error) {
	if upTo <= 0 || upTo > s.rows {
		upTo = s.rows
	}
	return max(upTo-after, 0) + s.extra, nil
}

func (s *fakeSource) ScanLogs(ctx context.Context, after, upTo int64, size int, f func(*LogBatch) error) (err error) {
	defer func() {
		if s.stopped != nil {
			s.stopped <- err
		}
	}()
	if upTo <= 0 || upTo > s.rows {
		upTo = s.rows
	}
	b := &LogBatch{After: after, Last: after}
	for id := after + 1; id <= upTo; id++ {
		if id == s.failAt {
			return errors.New("disk on fire")
		}
		b.Last, b.Rows = id, b.Rows+1
		if id%10 == 0 {
			b.Skipped = append(b.Skipped, CopyIssue{Table: "t", SrcID: id, Reason: "bad owner"})
		} else {
			b.Lines = append(b.Lines, SourceLine{SrcID: id, Line: LogLine{ID: fmt.Sprint("id-", id), Owner: jid.MustParse("a@b")}})
		}
		if b.Rows == int64(size) || id == upTo {
			if err := f(b); err != nil {
				return err
			}
			b = &LogBatch{After: id, Last: id}
		}
	}
	return nil
}

func (s *fakeSource) ScanSettings(context.Context) (*Settings, error) { return &s.settings, nil }

// fakeDst is a LogImporter that keeps lines in memory. Its embedded Store
// is nil: Copy must not call other methods for an empty settings set.
type fakeDst struct {
	Store
	prog    CopyProgress
	ids     map[string]bool
	failAt  int64 // ImportLogs fails on the batch that holds this id
	batches int
}

func (d *fakeDst) CopyProgress(_ context.Context, source string) (CopyProgress, error) {
	d.prog.Source = source
	return d.prog, nil
}

func (d *fakeDst) ResetCopyProgress(context.Context, string) error {
	d.prog = CopyProgress{}
	return nil
}

func (d *fakeDst) ImportLogs(_ context.Context, _ string, b *LogBatch) (ImportResult, error) {
	if d.prog.LastSrcID != b.After {
		return ImportResult{}, ErrConflict
	}
	if d.failAt > b.After && d.failAt <= b.Last {
		return ImportResult{}, errors.New("destination full")
	}
	d.batches++
	var imported int64
	for _, l := range b.Lines {
		if !d.ids[l.Line.ID] {
			d.ids[l.Line.ID] = true
			imported++
		}
	}
	d.prog = d.prog.Advance(b, imported, 0)
	return ImportResult{Progress: d.prog, Imported: imported}, nil
}

func (d *fakeDst) CountCopiedLogs(_ context.Context, lines []SourceLine) (int64, error) {
	var n int64
	for _, l := range lines {
		if d.ids[l.Line.ID] {
			n++
		}
	}
	return n, nil
}

func TestCopyEngine(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{rows: 1000}
	dst := &fakeDst{ids: map[string]bool{}}
	var statuses []CopyStatus
	r, err := Copy(ctx, dst, src, CopyOptions{BatchSize: 64, Progress: func(s CopyStatus) { statuses = append(statuses, s) }})
	if err != nil {
		t.Fatal(err)
	}
	want := CopyProgress{Source: "fake", LastSrcID: 1000, Rows: 1000, Imported: 900, Skipped: 100}
	if r.Progress != want || r.Run != want || r.SourceRows != 1000 || r.Verified != 900 || len(r.SkippedLogs) != maxReported {
		t.Errorf("report %+v", r)
	}
	if dst.batches != 16 {
		t.Errorf("%d batches, want 16", dst.batches)
	}
	last := statuses[len(statuses)-1]
	if last.Phase != PhaseVerify || !last.Final || last.Done != 1000 {
		t.Errorf("last status %+v", last)
	}

	// Nothing left: a second run reads nothing.
	r, err = Copy(ctx, dst, src, CopyOptions{})
	if err != nil || r.Run.Rows != 0 || r.ResumedAfter != 1000 {
		t.Errorf("second run: %+v, %v", r.Run, err)
	}
	// Rows appearing below the copied range fail verification.
	src.extra = 3
	if _, err := Copy(ctx, dst, src, CopyOptions{}); !errors.Is(err, ErrCopyMismatch) ||
		!strings.Contains(err.Error(), "rows appeared below the copied range") {
		t.Errorf("extra source rows: %v", err)
	}
}

// TestCopyErrors checks that an error on either side stops both, and that
// the scanning goroutine ends before Copy returns.
func TestCopyErrors(t *testing.T) {
	ctx := context.Background()

	src := &fakeSource{rows: 1000, failAt: 500, stopped: make(chan error, 1)}
	dst := &fakeDst{ids: map[string]bool{}}
	r, err := Copy(ctx, dst, src, CopyOptions{BatchSize: 100})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("source error: %v", err)
	}
	select {
	case <-src.stopped:
	default:
		t.Error("the scanner was still running when Copy returned")
	}
	if r.Progress.LastSrcID != 400 {
		t.Errorf("stopped at %d, want 400", r.Progress.LastSrcID)
	}

	src = &fakeSource{rows: 100_000, stopped: make(chan error, 1)}
	dst = &fakeDst{ids: map[string]bool{}, failAt: 250}
	_, err = Copy(ctx, dst, src, CopyOptions{BatchSize: 100})
	if err == nil || !strings.Contains(err.Error(), "destination full") || !strings.Contains(err.Error(), "lines 201 to 300") {
		t.Errorf("destination error: %v", err)
	}
	select {
	case serr := <-src.stopped:
		if !errors.Is(serr, context.Canceled) {
			t.Errorf("the scanner ended with %v, want it cancelled", serr)
		}
	default:
		t.Error("the scanner was still running when Copy returned")
	}

	// A dry run needs no destination.
	r, err = Copy(ctx, nil, &fakeSource{rows: 30}, CopyOptions{DryRun: true})
	if err != nil || r.Run.Imported != 27 || r.Run.Skipped != 3 {
		t.Errorf("dry run: %+v, %v", r.Run, err)
	}
	if _, err := Copy(ctx, nil, &fakeSource{}, CopyOptions{}); err == nil {
		t.Error("no destination and no dry run: no error")
	}
}
