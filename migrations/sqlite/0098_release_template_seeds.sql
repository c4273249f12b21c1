-- The three instance-wide release templates every installation starts with (issue 13). They are
-- ordinary templates: admins may edit them. "segmentNames" names a segment of the project the
-- template is applied in; applying "Internal first" where there is no segment called internal
-- is refused with a sentence saying so.

insert into release_templates (project_id, key, name, milestones, created_at, updated_at) values
    (null, 'gradual', 'Gradual: 1 → 10 → 25 → 50 → 100 %',
     '[{"name":"1 %","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"1","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":60},{"name":"10 %","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"10","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":60},{"name":"25 %","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"25","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":60},{"name":"50 %","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"50","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":60},{"name":"100 %","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":0}]',
     '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
insert into release_templates (project_id, key, name, milestones, created_at, updated_at) values
    (null, 'canary', 'Canary: 5 % for an hour, then everyone',
     '[{"name":"Canary 5 %","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"5","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":60},{"name":"Everyone","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":0}]',
     '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
insert into release_templates (project_id, key, name, milestones, created_at, updated_at) values
    (null, 'internal-first', 'Internal first: the internal segment, then 10 %, then everyone',
     '[{"name":"Internal","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default"},"constraints":[],"segments":[],"variants":[],"segmentNames":["internal"]}],"holdMinutes":60},{"name":"10 %","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"10","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":60},{"name":"Everyone","strategies":[{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default"},"constraints":[],"segments":[],"variants":[]}],"holdMinutes":0}]',
     '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
