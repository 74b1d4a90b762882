-- Job queue and cron (Postgres). Keep in lockstep with migrations/sqlite/0003_jobs.sql.

-- A resource whose rate a job consumes (for example one WhatsApp number's throughput).
ALTER TABLE jobs ADD COLUMN rate_key TEXT;
CREATE INDEX jobs_state_time ON jobs (state, updated_at);

-- Runtime state of the built-in cron schedules (their expressions live in the code).
CREATE TABLE cron_schedules (
    name            TEXT PRIMARY KEY,
    last_fire_at    BIGINT,
    last_run_at     BIGINT,
    last_result     TEXT,
    last_error      TEXT,
    updated_at      BIGINT NOT NULL
);
