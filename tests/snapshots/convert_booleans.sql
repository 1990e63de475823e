-- boolean ()
-- params: {"p0": ["true", "yes", "y", "t", "1"], "p1": ["false", "no", "n", "f", "0"]}
CASE WHEN list_contains($p0, lower("raw")) THEN true WHEN list_contains($p1, lower("raw")) THEN false END
