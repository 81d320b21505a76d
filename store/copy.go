package store

import (
	"context"
	"errors"
)

// This file holds the vocabulary of Copy (copy_engine.go): the interfaces a
// source database and a destination store implement, and the records that
// travel between them. cmd/biboumi-migrate is its user.
//
// Two numberings meet here and are never mixed: a source row's own id
// (SrcID: Biboumi's id_ or our muc_log.seq in the source database) and the
// destination's LogLine.Seq, which the destination assigns. Progress and
// resumption are expressed in source ids only.

// ErrCopyMismatch reports that a copy finished but its verification found
// the destination does not hold every line of the source, or that some
// lines could not be stored because their ID is taken by other content.
var ErrCopyMismatch = errors.New("store: copy verification failed")

// CopySource is a database that Copy reads: a database of our own schema
// (sqlstore.Source) or a Biboumi 9.x one (store/biboumi). A source is only
// ever read; implementations open it read-only.
type CopySource interface {
	// SourceID names the database stably across runs, for instance
	// "biboumi:sqlite:/var/lib/biboumi/biboumi.sqlite". The destination
	// keys the progress of a copy by it. It never contains a password.
	SourceID() string
	LogScanner
	SettingsScanner
}

// LogScanner lists a whole archive, every owner and channel, in source
// order, for Copy. Source ids are positive (AUTOINCREMENT, SERIAL), so a
// scan from the start is a scan after 0. Copy calls ScanLogs on a
// goroutine of its own, and never two methods at once.
type LogScanner interface {
	// CountLogs returns how many source rows have an id in (after, upTo];
	// upTo <= 0 means no upper bound. Rows that ScanLogs would skip are
	// counted too: the count is of rows, not of lines it can convert.
	CountLogs(ctx context.Context, after, upTo int64) (int64, error)
	// ScanLogs reads the rows whose id is in (after, upTo] (upTo <= 0: no
	// upper bound) in id order and calls f with consecutive batches of
	// about size rows. A batch never splits rows that share an id (Biboumi's
	// PostgreSQL id_ has no unique constraint), so resuming after a batch's
	// Last loses nothing. The conversion of a row is deterministic: scanning
	// the same rows again gives the same lines, IDs included.
	//
	// f may keep the batch; ScanLogs does not touch it after f returns.
	// ScanLogs stops at the first error of f, or of ctx, and returns it.
	ScanLogs(ctx context.Context, after, upTo int64, size int, f func(*LogBatch) error) error
}

// SettingsScanner lists every option row and roster item of a source.
type SettingsScanner interface {
	// ScanSettings returns all of them. They are few (a handful per user),
	// so they are read at once.
	ScanSettings(ctx context.Context) (*Settings, error)
}

// LogImporter is implemented by stores that can take batches of copied log
// lines quickly and record the progress of a copy with them (sqlstore:
// PostgreSQL COPY into a staging table; SQLite multi-row inserts). Copy
// uses it when the destination has it, and falls back to Store.AppendLogs
// (slower, and resumable only by starting over) when not.
type LogImporter interface {
	// CopyProgress returns what the store recorded about copying from
	// source; its zero value (with Source set) when nothing was copied.
	CopyProgress(ctx context.Context, source string) (CopyProgress, error)
	// ResetCopyProgress forgets the progress of source, so that the next
	// copy reads the source from its start. Copied lines stay.
	ResetCopyProgress(ctx context.Context, source string) error
	// ImportLogs stores the lines of b in order, keeping their IDs, and adds
	// b to the progress of source, in one transaction: a batch is copied
	// and counted entirely or not at all.
	//
	// A line whose ID is already archived is not stored again: it counts as
	// present when the archived line has the same content, as a conflict
	// otherwise. ImportLogs fails with ErrConflict, storing nothing, when
	// the recorded progress of source is not at b.After (another copy from
	// the same source is running); when it is already at b.Last (a retried
	// batch whose commit went through) it stores nothing and succeeds.
	ImportLogs(ctx context.Context, source string, b *LogBatch) (ImportResult, error)
	// CountCopiedLogs returns how many of lines are archived with the same
	// ID and the same content.
	CountCopiedLogs(ctx context.Context, lines []SourceLine) (int64, error)
}

// SourceLine is a log line read from a source, with the id of its row
// there.
type SourceLine struct {
	// SrcID is the row's id in the source (Biboumi's id_, or muc_log.seq
	// of the source database). It is never a destination seq.
	SrcID int64
	// Line is the converted line. Line.Seq is zero: the destination
	// assigns its own archive order, following source order.
	Line LogLine
}

// LogBatch is a run of consecutive source rows.
type LogBatch struct {
	// After is the source id the batch starts after (exclusive), Last the
	// highest source id it covers (inclusive), skipped rows included. A
	// copy that stops after this batch resumes after Last.
	After, Last int64
	// Rows is how many source rows the batch covers: len(Lines) plus
	// len(Skipped).
	Rows int64
	// Lines are the rows that converted, in source order.
	Lines []SourceLine
	// Skipped are the rows that could not be converted, such as lines
	// whose owner is not a valid JID. They are not copied.
	Skipped []CopyIssue
	// NewIDs counts the lines of the batch that got a derived ID because
	// their source ID was empty or not unique (see store/biboumi).
	NewIDs int64
}

// CopyIssue describes a source row that Copy could not take as it is.
type CopyIssue struct {
	Table  string // the source table, such as "muclogline_"
	SrcID  int64  // the row's id in that table; 0 when the table has none
	Reason string // for the operator; never holds a password
}

// Settings are the option rows and roster items of a source, converted.
type Settings struct {
	Global   []GlobalOptions
	Servers  []ServerOptions // with their after-connect commands
	Channels []ChannelOptions
	Roster   []RosterItem
	Kept     []KeptChannel
	Certs    []ClientCert
	// Skipped are rows not copied (invalid JIDs, duplicate keys, orphan
	// after-connect commands).
	Skipped []CopyIssue
	// Repaired are rows copied with a value fixed (an invalid port
	// dropped from a port list).
	Repaired []CopyIssue
}

// CopyProgress is what a destination records about the copy from one
// source. The counts cover every run since the progress was last reset.
type CopyProgress struct {
	Source string
	// LastSrcID is the highest source id copied: a copy resumes after it.
	LastSrcID int64
	// Rows is how many source rows were handled:
	// Imported + Present + Conflicts + Skipped.
	Rows int64
	// Imported counts the lines this copy stored.
	Imported int64
	// Present counts lines found archived already, with the same ID and
	// content (copied by an earlier, interrupted run whose progress was
	// lost, or from another copy of the same database).
	Present int64
	// Conflicts counts lines not stored because their ID is archived with
	// other content.
	Conflicts int64
	// Skipped counts source rows that could not be converted.
	Skipped int64
}

// Advance returns p after batch b, of which imported lines were stored and
// conflicts were refused because their ID is archived with other content;
// the other lines of b were present already. LogImporter implementations
// use it, so that every store counts alike.
func (p CopyProgress) Advance(b *LogBatch, imported, conflicts int64) CopyProgress {
	present := int64(len(b.Lines)) - imported - conflicts
	skipped := int64(len(b.Skipped))
	p.LastSrcID = b.Last
	p.Imported += imported
	p.Present += present
	p.Conflicts += conflicts
	p.Skipped += skipped
	p.Rows += imported + present + conflicts + skipped
	return p
}

// ImportResult is the outcome of LogImporter.ImportLogs.
type ImportResult struct {
	// Progress is the progress recorded for the source after the batch.
	Progress CopyProgress
	// Imported is how many lines of the batch were stored.
	Imported int64
	// Conflicts are the IDs of the lines not stored because their ID is
	// archived with other content.
	Conflicts []string
}

// CopyPhase names a step of Copy, for progress reports.
type CopyPhase string

// The steps of Copy, in order.
const (
	PhaseSettings CopyPhase = "settings"
	PhaseLogs     CopyPhase = "logs"
	PhaseVerify   CopyPhase = "verify"
)

// CopyStatus is a progress report of Copy.
type CopyStatus struct {
	Phase CopyPhase
	// Done and Total count the source rows of the phase: handled so far,
	// and to handle (taken when the phase started; a live source may
	// grow). A resumed copy counts only what is left.
	Done, Total int64
	// Final is set on the last report of a phase.
	Final bool
}

// CopyOptions tune Copy. The zero value copies and verifies everything
// with the default batch size.
type CopyOptions struct {
	// BatchSize is how many log rows are read, stored and recorded as
	// progress at a time. Default DefaultCopyBatch.
	BatchSize int
	// DryRun reads and converts the whole source and reports what would be
	// copied, without touching the destination (which may be nil).
	DryRun bool
	// Rescan ignores the recorded progress and reads the source from its
	// start. Lines already copied are recognised and not stored twice.
	// Use it when verification reports rows that appeared below the
	// copied range.
	Rescan bool
	// QuickVerify verifies counts only, without reading the source a
	// second time to check that every line is in the destination.
	QuickVerify bool
	// Progress, when not nil, is called on Copy's goroutine at the start
	// and end of each phase and after each batch. It must return quickly.
	Progress func(CopyStatus)
}

// DefaultCopyBatch is the default CopyOptions.BatchSize.
const DefaultCopyBatch = 10_000

// maxReported bounds the issues and conflict IDs a CopyReport lists; the
// counts are always complete.
const maxReported = 100

// CopyReport is the outcome of Copy.
type CopyReport struct {
	Source string
	DryRun bool

	// Global, Servers, Channels, Roster, Kept and Certs count the option
	// rows, roster items, kept channels and client certificates copied.
	Global, Servers, Channels, Roster, Kept, Certs int
	// SettingsSkipped and SettingsRepaired list the settings rows not
	// copied or copied with a fix.
	SettingsSkipped, SettingsRepaired []CopyIssue

	// ResumedAfter is the source id this run started after (0: from the
	// start).
	ResumedAfter int64
	// Run counts what this run did; Progress is the recorded total since
	// the progress was last reset. Without a LogImporter (or in a dry
	// run) both count this run only.
	Run, Progress CopyProgress
	// NewIDs counts the lines of this run that got a derived ID.
	NewIDs int64
	// SkippedLogs lists the first skipped log rows of this run
	// (Run.Skipped counts them all).
	SkippedLogs []CopyIssue
	// ConflictIDs lists the first IDs of this run refused because they are
	// archived with other content (Run.Conflicts counts them all).
	ConflictIDs []string

	// SourceRows is how many rows the source holds in the copied range,
	// counted at verification. Verified is how many of its lines were
	// found in the destination (-1: not checked, see QuickVerify).
	SourceRows, Verified int64
}
