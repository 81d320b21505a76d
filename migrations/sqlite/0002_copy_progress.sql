-- The progress of biboumi-migrate copy, one row per source, updated in the
-- same transaction as each batch of lines, so a copy can resume after a
-- kill. IF NOT EXISTS: copies made before this migration created it.
CREATE TABLE IF NOT EXISTS copy_progress (
	source      TEXT   NOT NULL PRIMARY KEY, -- store.CopySource.SourceID()
	last_src_id BIGINT NOT NULL,             -- the highest source id copied (the source's numbering)
	rows_read   BIGINT NOT NULL,
	imported    BIGINT NOT NULL,
	present     BIGINT NOT NULL,
	conflicts   BIGINT NOT NULL,
	skipped     BIGINT NOT NULL,
	updated_us  BIGINT NOT NULL
);
