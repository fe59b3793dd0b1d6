-- Hub scanning (issue 14): reads cached per file, Hub models tracked by projects, the progress
-- of bulk scans. Jobs of kind `hub` (a tracked model) and `hub-bulk` run on the `jobs` table.

-- The bytes one scan read from one file (`CachedReads::encode`), keyed by the full commit and
-- the mlvet version (with its rules digest): the same file is never fetched twice.
CREATE TABLE hub_read_cache (
    repo_type TEXT NOT NULL,
    repo_id TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    path TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    body BLOB NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (repo_type, repo_id, commit_sha, path, tool_version)
);

-- A Hub model a project tracks; its findings are the project's under the source `source`
-- (`hf://org/name[@revision]`). `last_*`: the latest scan.
CREATE TABLE hub_models (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    repo_type TEXT NOT NULL,
    repo_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    source TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created TEXT NOT NULL,
    last_commit TEXT,
    last_tool_version TEXT,
    last_verdict TEXT,
    last_scanned TEXT,
    last_checked TEXT,
    last_error TEXT,
    UNIQUE (project_id, source)
);
CREATE INDEX hub_models_by_project ON hub_models (project_id, id);

-- One row per repository of a bulk scan job, in the order given.
CREATE TABLE hub_scan_repos (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    repo TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'succeeded', 'failed')),
    commit_sha TEXT,
    verdict TEXT,
    files INTEGER,
    findings INTEGER,
    errors TEXT,
    PRIMARY KEY (job_id, seq)
);
