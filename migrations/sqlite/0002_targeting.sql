-- Targeting beyond on/off: reusable segments, flag dependencies, impression data; and the usage
-- evidence the feed records (SDK applications and hourly evaluation counts).

alter table flags add column impression_data integer not null default 0;

create table segments (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    name text not null,
    description text not null default '',
    -- Unleash-shaped constraint list as JSON
    constraints text not null default '[]',
    version integer not null default 1,
    created_at text not null,
    updated_at text not null,
    unique (project_id, name)
);

create table flag_dependencies (
    flag_id integer not null references flags(id) on delete cascade,
    parent_key text not null,
    enabled integer not null default 1,
    -- JSON list of variant names the parent must be on, empty for any
    variants text not null default '[]',
    primary key (flag_id, parent_key)
);

create table client_applications (
    environment_id integer not null references environments(id) on delete cascade,
    app_name text not null,
    instance_id text not null,
    sdk_version text not null default '',
    first_seen text not null,
    last_seen text not null,
    primary key (environment_id, app_name, instance_id)
);

create table usage_hourly (
    environment_id integer not null references environments(id) on delete cascade,
    flag_key text not null,
    hour text not null,
    yes integer not null default 0,
    no integer not null default 0,
    primary key (environment_id, flag_key, hour)
);
