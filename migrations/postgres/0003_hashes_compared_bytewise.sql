-- The hashes are lowercase hex (SPEC §6), compared only for equality and kept in b-trees
-- whose order means nothing. Under the database's collation (C.UTF-8, en_US.UTF-8, …)
-- PostgreSQL 15 compares two strings through the C library's strcoll, after copying both to
-- NUL-terminated buffers; under "C" it compares bytes. Every claim descends the codes' key
-- and inserts two random keys into the tokens' indexes, so these comparisons were a visible
-- share of the server's time (README "Performance"). Equality, and every lookup, stay the
-- same: hex digits compare alike in any collation.
--
-- Changing only the collation rewrites no table; each index on these columns is rebuilt,
-- under a lock on its table, once.

ALTER TABLE ccg_tokens ALTER COLUMN token_hash TYPE TEXT COLLATE "C";
ALTER TABLE auth_codes ALTER COLUMN code_hash TYPE TEXT COLLATE "C";
ALTER TABLE access_tokens ALTER COLUMN token_hash TYPE TEXT COLLATE "C";
ALTER TABLE access_tokens ALTER COLUMN code_hash TYPE TEXT COLLATE "C";
