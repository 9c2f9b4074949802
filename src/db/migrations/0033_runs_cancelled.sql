-- A streaming run whose client went away is recorded as cancelled, with the usage so far.
alter table runs drop constraint runs_status_check;
alter table runs add constraint runs_status_check check (status in ('completed', 'failed', 'cancelled'));
