-- Each webhook signs its deliveries with its own secret (HMAC-SHA256 of the body), so a receiver
-- can tell them from forgeries. Kept in clear: signing needs the key itself (a hash would not do).
-- Webhooks made before this migration have none ('') and deliver unsigned until recreated.
alter table webhooks add column secret text not null default '';
