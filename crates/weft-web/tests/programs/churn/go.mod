module weft.test/churn

go 1.22
