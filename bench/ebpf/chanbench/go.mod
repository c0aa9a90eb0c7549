module weft.bench/chanbench

go 1.22
