-- The incident catalog as schema version 1 created it (SQLite). Kept verbatim:
-- tests/test_catalog.py builds a v1 catalog from it and checks the in-place upgrade.
CREATE TABLE catalog_meta (
    "key" VARCHAR(64) NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE incidents (
    id INTEGER NOT NULL PRIMARY KEY,
    incident_id VARCHAR(128) NOT NULL UNIQUE,
    title TEXT,
    severity VARCHAR(8),
    services TEXT,
    window_start DATETIME,
    window_end DATETIME,
    triggered_at DATETIME,
    acknowledged_at DATETIME,
    resolved_at DATETIME,
    bundle_path TEXT NOT NULL,
    manifest_sha256 VARCHAR(64) NOT NULL,
    indexed_at DATETIME NOT NULL
);
CREATE TABLE incident_signatures (
    incident_pk INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    signature TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (incident_pk, signature)
);
CREATE TABLE action_items (
    incident_pk INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    owner TEXT,
    PRIMARY KEY (incident_pk, position)
);
INSERT INTO catalog_meta ("key", value) VALUES ('schema_version', '1');
