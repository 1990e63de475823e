-- date (dates D.M.Y)
-- params: {"p0": ["%d.%m.%Y"]}
CAST(try_strptime("raw", $p0) AS DATE)
