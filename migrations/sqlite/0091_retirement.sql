-- Retirement tracking: how many quiet days (no evaluation anywhere) the retirement checklist
-- asks for, and the stale count of every project once a day, written by the lifecycle job
-- (days it did not run stay absent: nothing is backfilled).

alter table project_lifecycle add column retirement_quiet_days integer not null default 7;

create table project_stale_counts (
    project_id integer not null references projects(id) on delete cascade,
    -- the UTC day, YYYY-MM-DD
    day text not null,
    -- active flags stale that day, as the assessment found them
    stale_flags integer not null,
    -- active (not archived) flags
    live_flags integer not null,
    -- every flag, archived ones included
    total_flags integer not null,
    recorded_at text not null,
    primary key (project_id, day)
);
