module weft.test/ebpflifecycle

go 1.22
