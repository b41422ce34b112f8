package master

import (
	"time"

	"go.uber.org/zap"
)

// roundLogEvery is how often, at most, a leader reports its assignment
// rounds at info level. Under load a leader runs hundreds of rounds a
// second: a line each would write gigabytes a day to an operator's log and
// spend a noticeable part of the leader's CPU, saying nothing the metrics
// (paddock_tasks_assigned_total) do not. The rounds between are logged at
// debug level, where the process tests' history checker reads every one.
const roundLogEvery = time.Second

// roundLog reports assignment rounds: the first of a term at once (the
// bench times a failover by it), then at most one per roundLogEvery at info
// level, carrying the rounds and tasks it left to debug since the last.
type roundLog struct {
	last          time.Time
	rounds, tasks int // logged at debug level since last
}

func (rl *roundLog) report(log *zap.Logger, now time.Time, tasks, pending int) {
	if !rl.last.IsZero() && now.Sub(rl.last) < roundLogEvery {
		rl.rounds++
		rl.tasks += tasks
		log.Debug("assigned tasks", zap.Int("tasks", tasks), zap.Int("pending", pending))
		return
	}
	fields := []zap.Field{zap.Int("tasks", tasks), zap.Int("pending", pending)}
	if rl.rounds > 0 {
		fields = append(fields, zap.Int("rounds_before", rl.rounds), zap.Int("tasks_before", rl.tasks))
	}
	log.Info("assigned tasks", fields...)
	*rl = roundLog{last: now}
}
