/* privacy_guard 0.2 to 0.3: ALTER EXTENSION privacy_guard UPDATE TO '0.3' */

\echo Use "ALTER EXTENSION privacy_guard UPDATE TO '0.3'" to load this file. \quit

-- 0.3 is under development: every change to the extension's SQL objects
-- since the 0.2 release goes here as well as into sql/<concept>.sql, and
-- test/t/017_upgrade.pl checks that an installation updated through this
-- script has exactly the objects of a fresh one.  Nothing has changed yet.
