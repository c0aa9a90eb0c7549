module weft.bench/webframes

go 1.22
