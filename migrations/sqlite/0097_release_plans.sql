-- Rollout safety (issue 13): release templates (instance-wide when project_id is null, or one
-- project's), release plans that walk a flag through a template's milestones in one
-- environment, the guards' breach state, what happened to each plan, and the review a person
-- completes after an automatic rollback.

create table release_templates (
    id integer primary key,
    -- null: instance-wide, offered in every project
    project_id integer references projects(id) on delete cascade,
    key text not null,
    name text not null,
    -- JSON [{"name", "strategies": [Unleash strategy, "segmentNames"?], "holdMinutes"}]
    milestones text not null,
    version integer not null default 1,
    created_at text not null,
    updated_at text not null
);

create unique index release_templates_by_key on release_templates (coalesce(project_id, 0), key);

create table release_plans (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    environment_id integer not null references environments(id) on delete cascade,
    flag_key text not null,
    template_key text not null,
    template_name text not null,
    -- the milestones as approved, segments resolved to this project's ids
    milestones text not null,
    -- JSON [guard], as the contract shapes them
    guards text not null,
    -- JSON [number or null]: each guard's value just before the plan started
    baselines text not null,
    on_breach text not null check (on_breach in ('previous', 'off')),
    auto_advance boolean not null,
    state text not null check (state in ('running', 'paused', 'rolled-back', 'completed', 'cancelled')),
    milestone integer not null,
    milestone_started_at text not null,
    started_at text not null,
    started_by text not null,
    change_request_id integer,
    ended_at text,
    -- bumped by every move: a move is a conditional update on it, so two processes running the
    -- guard job cannot both advance or both roll back
    version integer not null default 1
);

-- At most one plan in progress per flag and environment.
create unique index release_plans_in_progress on release_plans (environment_id, flag_key)
    where state in ('running', 'paused', 'rolled-back');

create table release_guard_states (
    plan_id integer not null references release_plans(id) on delete cascade,
    guard_index integer not null,
    -- when the guard's value first went over its limit without coming back since
    breaching_since text,
    primary key (plan_id, guard_index)
);

create table release_plan_events (
    id integer primary key,
    plan_id integer not null references release_plans(id) on delete cascade,
    at text not null,
    kind text not null,
    milestone integer not null,
    actor text not null,
    -- JSON: the evidence of a rollback, the reason of a pause
    detail text
);

create index release_plan_events_by_plan on release_plan_events (plan_id, id);

create table release_rollback_reviews (
    id integer primary key,
    plan_id integer not null references release_plans(id) on delete cascade,
    project_id integer not null references projects(id) on delete cascade,
    what text not null,
    -- JSON: values, baseline, limit, window
    evidence text not null,
    rolled_back_at text not null,
    completed_by_id integer references users(id),
    completed_by text,
    completed_at text,
    note text
);

-- Per project: switching a flag on in a protected environment must go through a release plan
-- or start below 100 %.
create table release_settings (
    project_id integer primary key references projects(id) on delete cascade,
    require_gradual boolean not null
);

-- A release plan in a protected environment is approved as one change request item of its own
-- kind (the whole plan), so the item kinds grow by 'release-plan' (as in 0051: SQLite changes a
-- check only by copying the table).
create table change_request_items_new (
    id integer primary key,
    change_request_id integer not null references change_requests(id) on delete cascade,
    kind text not null check (kind in ('toggle', 'strategies', 'variants', 'archive', 'segment',
        'protection', 'dependencies', 'release-plan')),
    flag_key text,
    segment_id integer,
    -- the proposed change as JSON (see crate::changes::Proposal)
    payload text not null,
    -- the version of what it changes when it was proposed: flag_environments.version for
    -- toggle/strategies/variants/release-plan, flags.version for archive and dependencies,
    -- segments.version for segment, environments.protection_version for protection
    base_version integer not null,
    before_json text not null,
    after_json text not null,
    created_at text not null
);
insert into change_request_items_new (id, change_request_id, kind, flag_key, segment_id, payload,
    base_version, before_json, after_json, created_at)
select id, change_request_id, kind, flag_key, segment_id, payload,
    base_version, before_json, after_json, created_at from change_request_items;
drop table change_request_items;
alter table change_request_items_new rename to change_request_items;
create index change_request_items_request on change_request_items(change_request_id);
