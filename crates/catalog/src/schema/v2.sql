-- Version 2: the full-text index of file paths moves to its own database
-- file beside the catalog (`<catalog>-fts`, see src/index.rs), so that a
-- second thread can write it while the rows are written. The next writer
-- to open the catalog rebuilds it there from the files table.
DROP TRIGGER files_fts_delete;
DROP TABLE file_fts;
