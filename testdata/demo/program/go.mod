module weft.test/demo

go 1.22
