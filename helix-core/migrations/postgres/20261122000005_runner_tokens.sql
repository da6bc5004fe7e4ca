-- Runner tokens: the credentials GPU runners dial in with. Each is bound to one runner
-- id; several may be active for the same runner (rotation). Only the SHA-256 of the
-- secret is stored. Times are epoch milliseconds.
CREATE TABLE runner_tokens (
    id TEXT PRIMARY KEY,
    runner_id TEXT NOT NULL,
    description TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX runner_tokens_runner ON runner_tokens(runner_id);
