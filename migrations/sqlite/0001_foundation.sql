-- Foundation schema: people, projects, environments, roles, the flag catalog, tokens and the audit log.
-- Timestamps are RFC 3339 UTC text with milliseconds (sortable, portable to PostgreSQL as timestamptz).

create table users (
    id integer primary key,
    email text not null unique,
    name text not null,
    password_hash text not null,
    is_admin integer not null default 0,
    active integer not null default 1,
    -- bumped on password change or deactivation so every older session stops working
    session_version integer not null default 1,
    created_at text not null,
    updated_at text not null
);

create table teams (
    id integer primary key,
    key text not null unique,
    name text not null,
    created_at text not null
);

create table team_members (
    team_id integer not null references teams(id) on delete cascade,
    user_id integer not null references users(id) on delete cascade,
    primary key (team_id, user_id)
);

create table projects (
    id integer primary key,
    key text not null unique,
    name text not null,
    description text not null default '',
    -- optional stricter naming rule for flag keys, with an example shown in forms
    key_pattern text,
    key_example text,
    created_at text not null
);

create table project_lifetimes (
    project_id integer not null references projects(id) on delete cascade,
    flag_type text not null,
    -- null means the type is permanent
    days integer,
    primary key (project_id, flag_type)
);

create table environments (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    key text not null,
    name text not null,
    sort_order integer not null,
    protected integer not null default 0,
    required_approvals integer not null default 1,
    created_at text not null,
    unique (project_id, key)
);

create table memberships (
    project_id integer not null references projects(id) on delete cascade,
    user_id integer not null references users(id) on delete cascade,
    role text not null check (role in ('viewer', 'editor', 'approver', 'owner')),
    created_at text not null,
    primary key (project_id, user_id)
);

create table flags (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    key text not null,
    name text not null,
    description text not null default '',
    flag_type text not null,
    value_type text not null,
    owner_user_id integer references users(id),
    owner_team_id integer references teams(id),
    created_by text not null,
    created_at text not null,
    updated_at text not null,
    archived_at text,
    version integer not null default 1,
    unique (project_id, key)
);
create index flags_project_updated on flags(project_id, updated_at);

create table flag_tags (
    flag_id integer not null references flags(id) on delete cascade,
    tag text not null,
    primary key (flag_id, tag)
);
create index flag_tags_tag on flag_tags(tag);

create table flag_links (
    id integer primary key,
    flag_id integer not null references flags(id) on delete cascade,
    kind text not null,
    url text not null
);

create table flag_environments (
    flag_id integer not null references flags(id) on delete cascade,
    environment_id integer not null references environments(id) on delete cascade,
    enabled integer not null default 0,
    -- the Unleash-shaped targeting of this environment: strategies and flag-level variants as JSON
    strategies text not null default '[]',
    variants text not null default '[]',
    version integer not null default 1,
    updated_at text not null,
    primary key (flag_id, environment_id)
);

create table api_tokens (
    id integer primary key,
    -- SHA-256 of the whole secret; the secret itself is never stored
    secret_hash text not null unique,
    -- the first characters of the secret, shown so people can tell tokens apart
    display_prefix text not null,
    kind text not null check (kind in ('client', 'frontend', 'admin')),
    project_id integer not null references projects(id) on delete cascade,
    environment_id integer references environments(id) on delete cascade,
    user_id integer references users(id) on delete cascade,
    name text not null,
    created_by text not null,
    created_at text not null,
    expires_at text,
    last_used_at text,
    revoked_at text
);

create table audit_log (
    seq integer primary key,
    at text not null,
    actor_kind text not null,
    actor_id integer,
    actor_label text not null,
    action text not null,
    project_key text,
    flag_key text,
    environment_key text,
    target text not null,
    before_json text,
    after_json text,
    reason text,
    request_id text,
    prev_hash text not null,
    hash text not null
);
create index audit_project on audit_log(project_key, seq);
create index audit_flag on audit_log(flag_key, seq);

-- The audit log is append-only: the application may only insert.
create trigger audit_log_no_update before update on audit_log
begin
    select raise(abort, 'the audit log is append-only');
end;
create trigger audit_log_no_delete before delete on audit_log
begin
    select raise(abort, 'the audit log is append-only');
end;
