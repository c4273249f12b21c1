-- The weekly cleanup reports (issue 12, item 5): one kept report per project and ISO week. The
-- unique key makes a second attempt for the same week (a restart, another replica) a no-op.

create table stale_reports (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    -- ISO week, such as 2031-W05
    week text not null,
    generated_at text not null,
    -- flags not archived, and how many of them were stale
    flags integer not null,
    stale integer not null,
    health_percent integer,
    -- the report as JSON (the shape the README documents)
    body text not null,
    -- the keys of its stale flags as a JSON list: the next report's baseline, read without
    -- parsing the whole body
    stale_keys text not null default '[]',
    unique (project_id, week)
);
create index stale_reports_generated on stale_reports(generated_at);

-- "What changed since the last report" reads a project's entries after a time.
create index audit_project_at on audit_log(project_key, at);
