-- An admin token may be instance-wide (no project): it acts as its user wherever that user may
-- act, and is the only kind of token that may do what lies outside every project (creating
-- projects). Client and frontend tokens always name a project and an environment.
create table api_tokens_new (
    id integer primary key,
    secret_hash text not null unique,
    display_prefix text not null,
    kind text not null check (kind in ('client', 'frontend', 'admin')),
    project_id integer references projects(id) on delete cascade,
    environment_id integer references environments(id) on delete cascade,
    user_id integer references users(id) on delete cascade,
    name text not null,
    created_by text not null,
    created_at text not null,
    expires_at text,
    last_used_at text,
    revoked_at text,
    check (project_id is not null or kind = 'admin')
);
insert into api_tokens_new (id, secret_hash, display_prefix, kind, project_id, environment_id,
    user_id, name, created_by, created_at, expires_at, last_used_at, revoked_at)
select id, secret_hash, display_prefix, kind, project_id, environment_id,
    user_id, name, created_by, created_at, expires_at, last_used_at, revoked_at from api_tokens;
drop table api_tokens;
alter table api_tokens_new rename to api_tokens;
