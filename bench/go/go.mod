module rx-p2p/bench/go

go 1.22.11

require github.com/cometbft/cometbft v0.38.26
