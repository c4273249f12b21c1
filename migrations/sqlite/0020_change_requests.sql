-- Change requests: changes to protected environments wait here for review (four eyes), then apply
-- atomically; and the emergency kills that skipped review and await an acknowledgement.

create table change_requests (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    environment_id integer not null references environments(id) on delete cascade,
    author_id integer not null references users(id),
    author_label text not null,
    state text not null check (state in ('draft', 'in-review', 'approved', 'scheduled', 'applied',
        'rejected', 'cancelled', 'failed')),
    title text not null default '',
    reason text not null default '',
    -- when state = 'scheduled': the time the scheduler applies it
    scheduled_at text,
    -- why it was rejected, or why applying it failed
    outcome text,
    applied_by text,
    created_at text not null,
    updated_at text not null
);
-- One draft per author and environment: new changes collect in it.
create unique index change_requests_one_draft
    on change_requests(project_id, environment_id, author_id) where state = 'draft';
create index change_requests_due on change_requests(state, scheduled_at);

create table change_request_items (
    id integer primary key,
    change_request_id integer not null references change_requests(id) on delete cascade,
    kind text not null check (kind in ('toggle', 'strategies', 'variants', 'archive', 'segment')),
    flag_key text,
    segment_id integer,
    -- the proposed change as JSON (see crate::changes::Proposal)
    payload text not null,
    -- the version of what it changes when it was proposed: flag_environments.version for
    -- toggle/strategies/variants, flags.version for archive, segments.version for segment
    base_version integer not null,
    -- what it was then, for the before/after view
    before_json text not null,
    -- what it will be, as the services would store it (validated when proposed)
    after_json text not null,
    created_at text not null
);
create index change_request_items_request on change_request_items(change_request_id);

create table change_request_approvals (
    change_request_id integer not null references change_requests(id) on delete cascade,
    user_id integer not null references users(id),
    user_label text not null,
    approved_at text not null,
    -- approvals count distinct people
    primary key (change_request_id, user_id)
);

create table change_request_comments (
    id integer primary key,
    change_request_id integer not null references change_requests(id) on delete cascade,
    author_label text not null,
    body text not null,
    created_at text not null
);

create table emergency_kills (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    environment_id integer not null references environments(id) on delete cascade,
    flag_key text not null,
    reason text not null,
    killed_by_id integer,
    killed_by text not null,
    killed_at text not null,
    acknowledged_by text,
    acknowledged_at text,
    acknowledgement text
);
create index emergency_kills_open on emergency_kills(project_id, acknowledged_at);
