-- One row per model call through the gateway. Times are epoch milliseconds.
CREATE TABLE usage_events (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_key_id TEXT,
    provider_endpoint_id TEXT,
    model TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    kind TEXT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    ttft_ms BIGINT,
    status TEXT NOT NULL,
    error_code TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX usage_events_user_time ON usage_events(user_id, created_at);
CREATE INDEX usage_events_time ON usage_events(created_at);
