-- One table of JSON documents (orjson bytes) namespaced by kind. WITHOUT ROWID: the primary key is the
-- clustered index, so list(kind, prefix) is a range scan.
CREATE TABLE documents (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    doc  BLOB NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
