module weft.test/attach

go 1.22
