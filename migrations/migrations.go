// Package migrations holds the database schema as numbered SQL files, one
// directory per dialect, embedded in the binary.
//
// A file is named NNNN_name.sql; NNNN is its version. Versions start at 1 and
// have no gaps, and every dialect has the same list of versions and names.
// A fresh database runs every migration in order: there is no separate
// "current schema" file, so the schema has a single source of truth.
// The table that records applied versions (schema_version) is created by the
// code that applies migrations (store/sqlstore), not by a migration, because
// it must exist before the first one runs.
//
// Rules for new files: never edit a migration that was released; add a new
// one. Keep each file valid for its engine only; the other dialect's file of
// the same version must leave an equivalent schema.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Dialects names the SQL dialects that have a migration directory.
var dialects = []string{"sqlite", "postgres"}

// Migration is one schema step.
type Migration struct {
	Version int    // 1, 2, …; the order in which migrations run
	Name    string // file name without version and extension, e.g. "init"
	SQL     string // one or more statements, run in a single transaction
}

// List returns the migrations of dialect ("sqlite" or "postgres") sorted by
// version. It returns nil for an unknown dialect. The slice is a fresh copy.
func List(dialect string) []Migration {
	known := false
	for _, d := range dialects {
		known = known || d == dialect
	}
	if !known {
		return nil
	}
	ms, err := load(files, dialect)
	if err != nil {
		// The files are embedded at build time and checked by the tests, so
		// this is a programming error, not a runtime condition.
		panic(err)
	}
	return ms
}

// load reads and validates the migrations of one dialect directory.
func load(fsys fs.FS, dialect string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("migrations: %s/%s: want NNNN_name.sql", dialect, e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dialect, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: %s: version %d found where %d was expected (versions start at 1, without gaps or duplicates)", dialect, m.Version, i+1)
		}
	}
	return ms, nil
}
