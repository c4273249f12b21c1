-- Webhooks: per-project endpoints told about change-request transitions and emergency kills,
-- and the durable outbox their deliveries wait in (written in the transaction of the event).

create table webhooks (
    id integer primary key,
    project_id integer not null references projects(id) on delete cascade,
    url text not null,
    format text not null check (format in ('generic', 'slack')),
    -- comma-separated event names (see crate::notify::Event); every event when empty
    events text not null default '',
    created_by text not null,
    active integer not null default 1,
    created_at text not null
);
create index webhooks_project on webhooks(project_id);

create table webhook_outbox (
    id integer primary key,
    webhook_id integer not null references webhooks(id) on delete cascade,
    event text not null,
    -- the event as JSON (crate::notify::Payload); rendered per format when sent
    body text not null,
    attempts integer not null default 0,
    -- null once delivered or given up
    next_attempt_at text,
    delivered_at text,
    last_error text,
    created_at text not null
);
create index webhook_outbox_due on webhook_outbox(next_attempt_at) where next_attempt_at is not null;
create index webhook_outbox_webhook on webhook_outbox(webhook_id, id);
