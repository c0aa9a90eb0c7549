module weft.test/attachcoro

go 1.23
