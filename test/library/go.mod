module github.com/paddock-zk/paddock/test/library

go 1.26.8

require github.com/paddock-zk/paddock v0.0.0

require (
	github.com/go-zookeeper/zk v1.0.4 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/paddock-zk/paddock => ../..
