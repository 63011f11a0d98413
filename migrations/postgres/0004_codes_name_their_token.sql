-- A claimed code names the token issued for it, so a replay finds that token by its primary
-- key (RFC 6749 §4.1.2: the replay revokes it), and the tokens lose their index by code. That
-- index took a random page of every claim for a key nothing else looks up (README
-- "Performance"). The code row is updated in place (0002), and this column is no index's, so
-- setting it with `redeemed_at` keeps the update beside the old row version.
--
-- Replicas older than this migration claim codes without naming the token, so a fleet is
-- upgraded across it with every replica stopped (README "Running many replicas").

ALTER TABLE auth_codes ADD COLUMN token_hash TEXT COLLATE "C";

UPDATE auth_codes AS a SET token_hash = t.token_hash
FROM access_tokens AS t
WHERE t.code_hash = a.code_hash;

DROP INDEX access_tokens_code_hash;
