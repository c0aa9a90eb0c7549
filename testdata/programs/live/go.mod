module weft.test/live

go 1.22
