-- Health signals (issue 13): time series per environment (and so per project), application,
-- metric name and label set. Impact metrics from SDKs and samples posted by services land here;
-- release guards aggregate them. Points are kept at minute resolution, so a series holds at most
-- one row per minute however many instances report: a counter point is the sum of the
-- increments received in that minute, a gauge point the sum and number of readings (its value
-- is their mean), a histogram point the summed count, sum and cumulative buckets.

create table signal_series (
    id integer primary key,
    environment_id integer not null references environments(id) on delete cascade,
    app_name text not null,
    name text not null,
    kind text not null check (kind in ('counter', 'gauge', 'histogram')),
    -- the label set as canonical JSON (keys sorted), "{}" when there are none
    labels text not null,
    created_at text not null,
    last_at text not null,
    unique (environment_id, app_name, name, labels)
);

create index signal_series_by_name on signal_series (environment_id, name);

create table signal_points (
    series_id integer not null references signal_series(id) on delete cascade,
    -- the minute the samples fall in (a stamp)
    at text not null,
    -- counter: the increments; gauge and histogram: the number of readings or observations
    count bigint not null,
    -- gauge: the sum of readings; histogram: the sum of observations; counter: 0
    sum double precision not null,
    -- histogram only: JSON [[le, cumulative count], ...] with "+Inf" as the last le
    buckets text,
    primary key (series_id, at)
);

create index signal_points_by_time on signal_points (at);
