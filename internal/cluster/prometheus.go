package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Prometheus reads a Prometheus server's HTTP API (diagnose --prometheus
// URL): instant PromQL queries, GET only.
type Prometheus struct {
	URL    string
	Client *http.Client
}

// Sample is one series of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant query: GET /api/v1/query?query=Q.
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	u, err := url.Parse(strings.TrimRight(p.URL, "/") + "/api/v1/query")
	if err != nil {
		return nil, fmt.Errorf("--prometheus %s: %w", p.URL, err)
	}
	u.RawQuery = url.Values{"query": {q}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus query %s: %w", q, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("prometheus query %s: HTTP %d, not the query API's JSON: %w", q, resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus query %s: %s", q, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus query %s: a %s, not a vector", q, r.Data.ResultType)
	}
	var out []Sample
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			continue
		}
		out = append(out, Sample{Labels: s.Metric, Value: v})
	}
	return out, nil
}

// SetPrometheus lets detectors query the Prometheus server at url.
func (s *State) SetPrometheus(p *Prometheus) { s.prom = p }

// PrometheusQuery runs an instant query on the run's Prometheus, each
// distinct query once per run; ok is false when the run has none.
func (s *State) PrometheusQuery(q string) (samples []Sample, ok bool, err error) {
	if s.prom == nil {
		return nil, false, nil
	}
	type result struct {
		samples []Sample
		err     error
	}
	r := s.Memo(promKey(q), func() any {
		v, err := s.prom.Query(s.ctx, q)
		return result{v, err}
	}).(result)
	return r.samples, true, r.err
}

type promKey string

// PrometheusSource says whether the run reads a Prometheus server.
func (s *State) PrometheusSource() (available bool, why string) {
	if s.prom == nil {
		return false, "no --prometheus URL given"
	}
	return true, "Prometheus at " + s.prom.URL
}
