package ops

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Value gathers g and sums the metric called name over its series whose
// labels include every pair of labels (name, value, name, value, ...): a
// counter's or gauge's value, a histogram's or summary's sample count.
// found is false when no series matches. It reads a registry the way a
// query would (tests, status pages), without an HTTP round trip.
func Value(g prometheus.Gatherer, name string, labels ...string) (v float64, found bool, err error) {
	if len(labels)%2 != 0 {
		return 0, false, fmt.Errorf("ops.Value: odd number of label arguments %q", labels)
	}
	families, err := g.Gather()
	if err != nil {
		return 0, false, err
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			found = true
			switch {
			case m.Counter != nil:
				v += m.Counter.GetValue()
			case m.Gauge != nil:
				v += m.Gauge.GetValue()
			case m.Histogram != nil:
				v += float64(m.Histogram.GetSampleCount())
			case m.Summary != nil:
				v += float64(m.Summary.GetSampleCount())
			case m.Untyped != nil:
				v += m.Untyped.GetValue()
			}
		}
	}
	return v, found, nil
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i < len(want); i += 2 {
		ok := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == want[i] && lp.GetValue() == want[i+1] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
