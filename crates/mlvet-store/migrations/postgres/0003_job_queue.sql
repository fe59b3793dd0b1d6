-- 0003: the job table as a queue for several processes (issue 12 §4).
--
-- - `run_at`: not before (a retried job waits for its backoff); NULL: at once.
-- - `max_attempts`: a job claimed more often than this fails (a poison job that kills its
--   worker every time stops being reclaimed).
-- - `heartbeat`: the last time its worker extended the lease (`locked_until`).
-- - `dedupe_key`: at most one *queued* job per key (an identical job queued while one waits
--   is not added); a running one does not block a new queued one, which then waits for it.
-- - `concurrency_key`: at most one *running* job per key (`project:<id>`): two jobs of one
--   project never run at once, in any number of processes.
ALTER TABLE jobs ADD COLUMN run_at TEXT;
ALTER TABLE jobs ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 5;
ALTER TABLE jobs ADD COLUMN heartbeat TEXT;
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
ALTER TABLE jobs ADD COLUMN concurrency_key TEXT;

UPDATE jobs SET concurrency_key = 'project:' || project_id;
-- Jobs left running by a binary without these rules go back to the queue (their workers,
-- if alive, cannot complete them any more: completion checks the lease's owner and attempt).
UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL WHERE state = 'running';

CREATE UNIQUE INDEX jobs_one_queued_per_dedupe_key ON jobs (dedupe_key)
    WHERE state = 'queued' AND dedupe_key IS NOT NULL;
CREATE UNIQUE INDEX jobs_one_running_per_concurrency_key ON jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
CREATE INDEX jobs_claimable ON jobs (id) WHERE state IN ('queued', 'running');

-- Single-instance duties of a fleet (the scheduled advisory update): a named lease.
CREATE TABLE singletons (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_until TEXT NOT NULL
);
