-- number (percent)
-- params: {"p0": "%"}
NULLIF(TRY_CAST(replace("raw", $p0, '') AS DOUBLE) / (CASE WHEN contains("raw", '%') THEN 100 ELSE 1 END), 'nan'::DOUBLE)
