module weft.test/attachreuse

go 1.22
