-- Keep its meaning identical to sqlite/0008_doc_ops_rowid.sql, which moves
-- SQLite's op log out of a WITHOUT ROWID table so that a large op is not
-- read whenever a search in the index passes it. PostgreSQL already keeps
-- the op in the table's heap and the key alone in its primary key's
-- index: nothing changes here.
SELECT 1;
