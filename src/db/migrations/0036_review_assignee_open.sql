-- Assigning a review task counts each reviewer's open tasks (round-robin by load). Without an index on the
-- assignee, every count read all open tasks of the installation, so opening a task slowed as the queue grew.
create index review_tasks_assignee_open on review_tasks (assignee_user_id) where status = 'open';
