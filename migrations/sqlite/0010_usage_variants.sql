-- Variant counts of SDK metrics, per environment, flag, hour and variant.
create table usage_variants_hourly (
    environment_id integer not null references environments(id) on delete cascade,
    flag_key text not null,
    hour text not null,
    variant text not null,
    count integer not null default 0,
    primary key (environment_id, flag_key, hour, variant)
);
