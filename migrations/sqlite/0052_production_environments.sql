-- Which environment is production is a property of the environment, not of its key: only admins
-- set a production environment's protection.
alter table environments add column production boolean not null default false;
update environments set production = true where key = 'production';
