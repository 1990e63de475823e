-- number (currency €, decimal comma)
-- params: {"p0": ".", "p1": " ", "p2": "\u20ac"}
NULLIF(TRY_CAST(replace(replace(replace(replace("raw", $p0, ''), $p1, ''), $p2, ''), ',', '.') AS DOUBLE), 'nan'::DOUBLE)
