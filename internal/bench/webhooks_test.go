package bench

import "testing"

// TestWebhooksEndToEnd is a smoke run of the webhooks scenario: small
// stages, every event delivered, every figure there (no figures asserted:
// the machine's load decides them).
func TestWebhooksEndToEnd(t *testing.T) {
	rep, _ := runInProcess(t, "webhooks", "--writes", "40", "--writers", "2", "--hooks", "1,3")
	for _, k := range []string{"write_p50_no_webhooks", "write_p99_no_webhooks", "webhook_events_per_s_1",
		"webhook_events_per_s_3", "write_p50_webhooks_3", "write_p99_webhooks_3", "webhook_delivery_p50_3"} {
		if v := value(t, rep, k); v <= 0 {
			t.Errorf("%s = %v", k, v)
		}
	}
	if len(rep.Problems) > 0 {
		t.Errorf("problems: %v", rep.Problems)
	}
}
