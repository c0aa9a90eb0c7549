module weft.e2e/shop

go 1.22
