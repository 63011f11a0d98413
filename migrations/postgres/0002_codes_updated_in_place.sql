-- A claim sets `redeemed_at` on its code row, and no index covers that column, so
-- PostgreSQL can write the new row version beside the old one on the same page (a HOT
-- update) and touch no index, but only if the page has room for it. Rows are inserted in
-- issue order and each is updated once, so half of every page is kept free: all of a page's
-- rows fit there twice. Codes live at most ten minutes (SPEC §4) and are swept, so the table
-- stays small.
ALTER TABLE auth_codes SET (fillfactor = 50);
