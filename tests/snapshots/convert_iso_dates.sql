-- date (dates Y-M-D)
-- params: {}
TRY_CAST("raw" AS DATE)
