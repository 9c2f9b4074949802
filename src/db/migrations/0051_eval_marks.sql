-- Eval traffic is marked: its gateway traces name the eval run, and never count as production use.
alter table gateway_traces add column eval_run text;
-- A use case's promotion gate: thresholds an eval run must meet before it moves to limited or production.
alter table use_cases add column gate jsonb;
