package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/casebook-dev/casebook/internal/cluster"
)

var (
	_ cluster.LogReader     = (*Source)(nil)
	_ cluster.MetricsReader = (*Source)(nil)
)

// ContainerLog reads the tail of one container's log:
// GET /api/v1/namespaces/NS/pods/NAME/log?container=C&tailLines=N&limitBytes=B[&previous=true].
// A 403 or 404 comes back as an error marked like a list's.
func (s *Source) ContainerLog(ctx context.Context, req cluster.LogRequest) (string, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	opts := &corev1.PodLogOptions{Container: req.Container, Previous: req.Previous}
	if req.TailLines > 0 {
		opts.TailLines = &req.TailLines
	}
	if req.LimitBytes > 0 {
		opts.LimitBytes = &req.LimitBytes
	}
	data, err := s.raw.Get().Namespace(req.Namespace).Resource("pods").Name(req.Pod).SubResource("log").
		VersionedParams(opts, scheme.ParameterCodec).DoRaw(ctx)
	if err != nil {
		return "", classify(statusError(err, data))
	}
	if req.LimitBytes > 0 && int64(len(data)) > req.LimitBytes {
		data = data[:req.LimitBytes]
	}
	return string(data), nil
}

// ServerMetrics reads the API server's GET /metrics and GET /readyz?verbose.
// Each may be forbidden on its own (system:monitoring grants both); the
// error says which failed. /readyz answers 500 with its verbose text when
// a check fails: that text is the evidence, not an error.
func (s *Source) ServerMetrics(ctx context.Context) (metrics, readyz string, err error) {
	get := func(path string, params map[string]string) (string, error) {
		r := s.raw.Get().AbsPath(path)
		for k, v := range params {
			r = r.Param(k, v)
		}
		// DoRaw keeps the body of a failed /readyz, its evidence.
		data, err := r.DoRaw(ctx)
		err = statusError(err, data)
		var st apierrors.APIStatus
		failedCheck := errors.As(err, &st) && st.Status().Code == http.StatusInternalServerError && len(data) > 0
		if err != nil && !(path == "/readyz" && failedCheck) {
			return "", fmt.Errorf("GET %s: %w", path, classify(err))
		}
		return string(data), nil
	}
	metrics, err1 := get("/metrics", nil)
	readyz, err2 := get("/readyz", map[string]string{"verbose": ""})
	return metrics, readyz, errors.Join(err1, err2)
}

// checkSubresource refuses, on the API path after the server's prefix, the core API's connect subresources, which a
// GET can open (exec and attach upgrade a GET to a stream; proxy reaches
// into pods, Services and kubelets): of a pod's subresources only log is
// read, and never followed, so that a request always ends.
func checkSubresource(req *http.Request, apiPath string) error {
	if up := req.Header.Get("Upgrade"); up != "" {
		return fmt.Errorf("casebook is read-only: refusing GET %s with Upgrade %q", req.URL.Path, up)
	}
	segs, err := pathSegments(apiPath)
	if err != nil {
		return err
	}
	if len(segs) < 3 || segs[0] != "api" || segs[1] != "v1" {
		return nil
	}
	rest := segs[2:]
	if rest[0] == "proxy" {
		return fmt.Errorf("casebook is read-only: refusing GET %s (proxy)", req.URL.Path)
	}
	if rest[0] == "watch" {
		rest = rest[1:]
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	if len(rest) < 3 {
		return nil
	}
	resource, sub := rest[0], rest[2]
	switch {
	case resource == "pods" && sub == "log" && len(rest) == 3:
		if q := req.URL.Query(); q.Has("follow") && q.Get("follow") != "false" {
			return fmt.Errorf("casebook reads logs as a bounded tail: refusing GET %s?follow", req.URL.Path)
		}
	case resource == "pods" || sub == "proxy":
		return fmt.Errorf("casebook is read-only: refusing GET %s (of the subresources only pods/log is read)", req.URL.Path)
	}
	return nil
}

// statusError reads the Status object an API server answers an error with
// (DoRaw leaves it undecoded), so that a 403 says what is forbidden.
func statusError(err error, body []byte) error {
	if err == nil {
		return nil
	}
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Status == metav1.StatusFailure {
		return &apierrors.StatusError{ErrStatus: st}
	}
	return err
}
