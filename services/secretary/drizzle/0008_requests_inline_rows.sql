-- An exchange row is ~2.1 KB (the text twice, both verdicts, the answer): just over the 2 KB at which
-- PostgreSQL starts compressing its values and moving them to the TOAST table, which cost every
-- answer's insert a failed pglz pass and a second heap and index insert (~6 % of the database's CPU
-- per answer). Rows up to a page now stay whole; longer ones (long mails) are toasted as before.
ALTER TABLE "secretary"."requests" SET (toast_tuple_target = 8160);
