package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"biboumi/migrations"
	"biboumi/store"
)

// The table that records applied migrations, one row per version. It is
// created here rather than by a migration because the version must be
// readable before the first migration runs.
const createSchemaVersion = `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at BIGINT  NOT NULL
)`

// migrate brings the schema of db up to the last of list, one migration per
// transaction, and returns the resulting version. Each transaction first
// takes the dialect's migration lock and reads the current version, so
// concurrent processes apply each migration exactly once. A database whose
// version is above the last of list is refused with store.ErrSchemaTooNew.
// Only ctx bounds the work, not the per-query timeout: a migration may
// rewrite a large archive.
func migrate(ctx context.Context, db *sql.DB, d *dialect, list []migrations.Migration) (int, error) {
	for i, m := range list {
		if m.Version != i+1 {
			return 0, fmt.Errorf("sqlstore: migrations: version %d at position %d", m.Version, i)
		}
	}
	newest := len(list)
	for {
		var version int
		done := false
		err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() //nolint:errcheck // a no-op after Commit
			if d.lockMigrations != "" {
				if _, err := tx.ExecContext(ctx, d.lockMigrations, migrationLockKey); err != nil {
					return fmt.Errorf("taking the migration lock: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, createSchemaVersion); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&version); err != nil {
				return err
			}
			switch {
			case version > newest:
				return fmt.Errorf("%w: the database is at schema version %d, this program knows versions up to %d; run a newer release",
					store.ErrSchemaTooNew, version, newest)
			case version == newest:
				done = true
				return tx.Commit()
			}
			m := list[version]
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
				m.Version, m.Name, time.Now().UnixMicro()); err != nil {
				return err
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			version = m.Version
			return nil
		}()
		if err != nil {
			return version, fmt.Errorf("sqlstore: migrating the schema (%s): %w", d.name, err)
		}
		if done {
			return version, nil
		}
	}
}
