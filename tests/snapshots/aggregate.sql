-- params: ["(blank)", "2024-01-01", "2024-12-31", "(blank)", "West", "East"]
SELECT __kpi_H_category, GROUPING(__kpi_H_category) AS is_total, __kpi_H_period, max(__kpi_H_day) AS __kpi_H_day, CAST((sum("Sales")) AS DOUBLE) AS m0, CAST(((sum("Profit") / NULLIF(sum("Sales"), 0))) AS DOUBLE) AS m1 FROM (SELECT CAST(date_trunc('month', "Order Date") AS DATE) AS __kpi_H_period, CAST("Order Date" AS DATE) AS __kpi_H_day, coalesce(CAST("Region" AS VARCHAR), ?) AS __kpi_H_category, "Sales", "Profit" FROM "orders" WHERE CAST("Order Date" AS DATE) >= ? AND CAST("Order Date" AS DATE) <= ? AND coalesce(CAST("Region" AS VARCHAR), ?) IN (?, ?)) AS __kpi_H_rows GROUP BY GROUPING SETS ((__kpi_H_category, __kpi_H_period), (__kpi_H_period))

-- params: ["2024-01-01", "2024-12-31", "(blank)", "West", "East", "Partner"]
SELECT __kpi_H_period, max(__kpi_H_day) AS __kpi_H_day, CAST((count(DISTINCT "Order ID")) AS DOUBLE) AS m0 FROM (SELECT CAST(date_trunc('quarter', "Order Date") AS DATE) AS __kpi_H_period, CAST("Order Date" AS DATE) AS __kpi_H_day, "Order ID" FROM "orders" WHERE CAST("Order Date" AS DATE) >= ? AND CAST("Order Date" AS DATE) <= ? AND coalesce(CAST("Region" AS VARCHAR), ?) IN (?, ?) AND ((("Channel" <> ?) AND ("Sales" BETWEEN 10 AND 1000)))) AS __kpi_H_rows GROUP BY __kpi_H_period

-- params: ["(blank)", "West", "East"]
SELECT CAST((count(*)) AS DOUBLE) AS m0 FROM (SELECT 1 FROM "orders" WHERE coalesce(CAST("Region" AS VARCHAR), ?) IN (?, ?)) AS __kpi_H_rows
