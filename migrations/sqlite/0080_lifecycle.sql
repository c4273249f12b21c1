-- Flag lifecycle: thresholds per project, per-flag lifetime and permanence, completion,
-- snoozes, and the latest assessment of every flag (its stage and stale reasons), which the
-- catalog filters and the feed's `stale` field read.

create table project_lifecycle (
    project_id integer primary key references projects(id) on delete cascade,
    grace_days integer not null default 7,
    unused_days integer not null default 30,
    fully_rolled_out_days integer not null default 14,
    off_days integer not null default 30
);

-- null: the project's lifetime for the flag's type applies
alter table flags add column lifetime_days integer;
-- a flag meant to stay (never stale)
alter table flags add column permanent boolean not null default false;
-- when it was first switched on anywhere (null: never)
alter table flags add column first_enabled_at text;
update flags set first_enabled_at = (
    select min(a.at) from audit_log a join projects p on p.key = a.project_key
    where p.id = flags.project_id and a.flag_key = flags.key
      and a.action in ('flag.enabled', 'flag.imported')
);

create table flag_completions (
    flag_id integer primary key references flags(id) on delete cascade,
    -- kept: released and kept; discarded: the feature was dropped
    outcome text not null check (outcome in ('kept', 'discarded')),
    -- the variant or branch to keep in the code
    variant text,
    note text not null default '',
    completed_by text not null,
    completed_at text not null
);

create table flag_snoozes (
    flag_id integer primary key references flags(id) on delete cascade,
    until text not null,
    reason text not null,
    snoozed_by text not null,
    snoozed_at text not null
);

create table flag_assessments (
    flag_id integer primary key references flags(id) on delete cascade,
    project_id integer not null references projects(id) on delete cascade,
    stage text not null,
    stage_entered_at text not null,
    -- true when it has stale reasons and no snooze covers now
    stale boolean not null,
    -- the reasons with their evidence, as JSON
    reasons text not null default '[]',
    assessed_at text not null
);
create index flag_assessments_project on flag_assessments(project_id, stale);

create table flag_stale_codes (
    flag_id integer not null references flags(id) on delete cascade,
    code text not null,
    primary key (flag_id, code)
);
create index flag_stale_codes_code on flag_stale_codes(code);
