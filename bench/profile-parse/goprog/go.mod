module weft.bench/profileparse

go 1.22
