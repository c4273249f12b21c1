-- Until when a replica holds a claimed delivery, on the database's clock: the replicas'
-- own clocks may disagree, and a claim must hold whatever another one's says.
alter table webhook_outbox add column lease_until text collate "C";
