module weft.test/profiles

go 1.22
