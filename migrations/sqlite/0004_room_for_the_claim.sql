-- Room for the claim. A code is minted with `redeemed_at` and `token_hash` NULL, which take
-- no bytes, and its claim fills both (a 6-byte time and a 64-character hash): the row grew
-- by 70 bytes, so on full pages every claim split one, and SQLite's split renumbers pages
-- through a page number past the end of the file, which made every commit scan the whole
-- page cache (README "Performance"). A new code now carries `claim_room`, a 70-byte blob
-- that the claim sets to NULL, so the claimed row is exactly as long as the minted one and
-- is rewritten in place. SQLite has no fillfactor; this is the row-level equivalent.
-- Codes minted before this migration have no room and are claimed as before.

ALTER TABLE auth_codes ADD COLUMN claim_room BLOB;
