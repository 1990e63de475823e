-- date (dates M/D/Y)
-- params: {"p0": ["%m/%d/%Y"]}
CAST(try_strptime("raw", $p0) AS DATE)
