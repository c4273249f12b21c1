-- Code references (issue 12, item 3): the latest scan of each repository that reported for a
-- project, the flag keys it found (file, line, snippet), and the project's link template.
-- A new scan of a repository replaces its previous one; the audit log keeps the history.

create table code_scans (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    repository text not null,
    -- the checkout's commit and branch when the scanned tree was a git checkout
    commit_id text,
    branch text,
    scanned_at text not null,
    recorded_at text not null,
    recorded_by text not null,
    unique (project_id, repository)
);

create table code_references (
    scan_id integer not null references code_scans(id) on delete cascade,
    flag_id integer not null references flags(id) on delete cascade,
    file text not null,
    line integer not null,
    snippet text not null,
    primary key (scan_id, flag_id, file, line)
);
create index code_references_flag on code_references(flag_id);

-- e.g. https://github.com/acme/{repository}/blob/{commit}/{file}#L{line}
create table code_url_templates (
    project_id integer primary key references projects(id) on delete cascade,
    template text not null
);
