-- A flag switched off by the emergency kill is still a production flag (a stop, not a retreat):
-- its lifecycle stage stays live until somebody switches it again.
alter table flag_environments add column killed boolean not null default false;
