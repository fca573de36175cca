-- Version 5: reserved for the ACL work on another branch (issue: ACLs).
-- The backup branch took version 6; this placeholder changes nothing and
-- is to be replaced by the ACL migration when both are merged.
SELECT 1;
