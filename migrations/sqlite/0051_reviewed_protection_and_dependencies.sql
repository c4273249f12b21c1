-- Lowering an environment's protection is itself a reviewed change: the version of the
-- protection settings lets the request detect that they moved while it waited.
alter table environments add column protection_version integer not null default 0;

-- Change requests now also carry protection changes and flag dependencies.
create table change_request_items_new (
    id integer primary key,
    change_request_id integer not null references change_requests(id) on delete cascade,
    kind text not null check (kind in ('toggle', 'strategies', 'variants', 'archive', 'segment',
        'protection', 'dependencies')),
    flag_key text,
    segment_id integer,
    -- the proposed change as JSON (see crate::changes::Proposal)
    payload text not null,
    -- the version of what it changes when it was proposed: flag_environments.version for
    -- toggle/strategies/variants, flags.version for archive and dependencies, segments.version
    -- for segment, environments.protection_version for protection
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
