-- Event payloads too large for a NOTIFY (8000 bytes): stored here, notified by id.
CREATE TABLE event_payloads (
    id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX event_payloads_created ON event_payloads(created_at);
