module weft.dev/bench/schedgap

go 1.22
