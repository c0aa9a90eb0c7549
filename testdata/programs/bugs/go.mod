module weft.test/bugs

go 1.22
