"""SQL text taken apart: the one place where d1nb reads the structure of SQL it did not write.

Structure comes from sqlglot's SQLite tokens (comments are not tokens; a string, blob or quoted
name is one token) and, for an INSERT … SELECT, sqlglot's parser. Where a whole file must be
read at C speed, a regex that steps over strings, quoted names and comments does the scanning:
splitting (SQLite's own `apsw.complete` decides inside trigger bodies) and the text wrangler's
splitter sends. Other modules ask this one for statements, their kind and target, the spans of
their clauses, CHECK constraints, IN-lists and quoted names and literals; none of them looks
at SQL characters itself.
"""
