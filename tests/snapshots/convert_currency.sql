-- number (currency $, accounting negatives)
-- params: {"p0": ",", "p1": "$", "p2": "(", "p3": ")"}
NULLIF(TRY_CAST(replace(replace(replace(replace("raw", $p0, ''), $p1, ''), $p2, ''), $p3, '') AS DOUBLE) * (CASE WHEN starts_with("raw", '(') THEN -1 ELSE 1 END), 'nan'::DOUBLE)
