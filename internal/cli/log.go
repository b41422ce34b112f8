package cli

import "go.uber.org/zap"

// ID is the log field naming the process (master, worker, candidate).
func ID(id string) zap.Field { return zap.String("id", id) }
